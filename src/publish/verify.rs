//! Reading the consumer view back after a catalog commit: the partitions in range must
//! come from the shadow and the rest from the previous body. A mismatch is an error
//! (exit 3) with a loud message; the release stays committed so that it can be inspected
//! and rolled back.

use datafusion::arrow::array::{Array, Int64Array};

use crate::catalog::{CatalogVersion, ReleaseAction};
use crate::error::engine;
use crate::execute::session::{self, SessionOptions};
use crate::plan::Plan;
use crate::spec::TableName;
use crate::sql::{date_literal, quote_ident, quote_table};
use crate::warehouse::Warehouse;
use crate::Error;

/// The source range as a predicate on the partition key.
pub fn in_scope(plan: &Plan) -> String {
    let spec = &plan.spec;
    let key = quote_ident(&spec.target.partition_key);
    let r = &spec.source_range;
    let mut p = format!("{key} BETWEEN {} AND {}", date_literal(r.start), date_literal(r.end));
    if !r.exclude.is_empty() {
        p.push_str(&format!(
            " AND {key} NOT IN ({})",
            r.exclude.iter().map(|d| date_literal(*d)).collect::<Vec<_>>().join(", ")
        ));
    }
    p
}

/// Rows of `a` not in `b` plus rows of `b` not in `a` (multiset difference, both ways).
async fn differing(ctx: &datafusion::prelude::SessionContext, a: &str, b: &str) -> Result<i64, Error> {
    let sql = format!(
        "SELECT (SELECT count(*) FROM ({a} EXCEPT ALL {b}) AS x) \
         + (SELECT count(*) FROM ({b} EXCEPT ALL {a}) AS y) AS n"
    );
    let batches = ctx.sql(&sql).await.map_err(engine)?.collect().await.map_err(engine)?;
    Ok(batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>().filter(|c| c.is_valid(0)).map(|c| c.value(0)))
        .unwrap_or(0))
}

/// After a publish: in range, the view equals the shadow; outside it, the previous body.
///
/// Errors: [`Error::Corrupt`] naming the side that differs; engine errors.
pub async fn after_publish(
    plan: &Plan,
    wh: &Warehouse,
    catalog: &CatalogVersion,
    previous_body: &str,
) -> Result<(), Error> {
    let spec = &plan.spec;
    let ctx = session::open(wh, catalog, &SessionOptions::default()).await?;
    let cols = plan.columns.iter().map(|c| quote_ident(&c.name)).collect::<Vec<_>>().join(", ");
    let view = quote_table(&spec.target.view.to_string());
    let scope = in_scope(plan);
    let inside = differing(
        &ctx,
        &format!("SELECT {cols} FROM {view} WHERE {scope}"),
        &format!("SELECT {cols} FROM {} WHERE {scope}", quote_table(&spec.target.shadow.to_string())),
    )
    .await?;
    // `IS NOT TRUE`, not `NOT`: rows whose partition key is NULL are outside the range too.
    let outside = differing(
        &ctx,
        &format!("SELECT {cols} FROM {view} WHERE ({scope}) IS NOT TRUE"),
        &format!("SELECT {cols} FROM ({previous_body}) AS previous WHERE ({scope}) IS NOT TRUE"),
    )
    .await?;
    if inside + outside > 0 {
        return Err(Error::Corrupt {
            path: format!("view {} (catalog version {})", spec.target.view, catalog.version),
            message: format!(
                "VERIFICATION FAILED after publishing: {inside} row(s) in range differ from the shadow \
                 and {outside} row(s) outside it differ from the previous body\n  \
                 fix: inspect with `backfill query`, and `backfill rollback SPEC` to restore the previous view"
            ),
        });
    }
    Ok(())
}

/// After a rollback: consumer view `view` of `catalog` equals `body` everywhere, column
/// for column (the same names in the same order) and row for row (as multisets). Needs
/// no plan: both sides are read with `SELECT *`.
///
/// Errors: [`Error::Corrupt`] when the columns or the rows differ; engine errors.
pub async fn after_rollback(
    wh: &Warehouse,
    catalog: &CatalogVersion,
    view: &TableName,
    body: &str,
) -> Result<(), Error> {
    let ctx = session::open(wh, catalog, &super::commit::release_session(ReleaseAction::Rollback)).await?;
    let (read, restored) =
        (format!("SELECT * FROM {}", quote_table(&view.to_string())), format!("SELECT * FROM ({body}) AS restored"));
    let failed = |what: String| Error::Corrupt {
        path: format!("view {view} (catalog version {})", catalog.version),
        message: format!("VERIFICATION FAILED after rollback: {what}"),
    };
    let names = |df: datafusion::prelude::DataFrame| -> Vec<String> {
        df.schema().fields().iter().map(|f| f.name().clone()).collect()
    };
    let columns = names(ctx.sql(&read).await.map_err(engine)?);
    let expected = names(ctx.sql(&restored).await.map_err(engine)?);
    if columns != expected {
        return Err(failed(format!(
            "its columns ({}) are not the restored body's ({})",
            columns.join(", "),
            expected.join(", ")
        )));
    }
    let n = differing(&ctx, &read, &restored).await?;
    if n > 0 {
        return Err(failed(format!("{n} row(s) differ from the restored body")));
    }
    Ok(())
}
