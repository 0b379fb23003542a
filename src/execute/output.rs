//! Does the transform's output fit the base table? Columns are matched by name and cast
//! to the base types (DESIGN.md: the transform's output is matched to the base schema);
//! a missing, extra or non-castable column, or a NULL partition value, is an error at
//! the transform's line in the spec (exit 2) before anything is written.

use datafusion::arrow::compute::can_cast_types;

use super::engine::Engine;

use crate::plan::transform::{transform_error, TransformTemplate};
use crate::plan::Plan;
use crate::sql::quote_ident;
use crate::Error;

/// Plan the transform for `partitions` and compare its columns with the base's; then
/// count rows whose partition key is NULL ([`null_partition_keys`]).
///
/// Errors: [`Error::Spec`] naming each missing, extra or non-castable column, or the
/// NULL partition values; [`Error::Engine`] when the transform does not plan.
pub async fn check(engine: &dyn Engine, plan: &Plan, partitions: &[chrono::NaiveDate]) -> Result<(), Error> {
    let spec = &plan.spec;
    let sql = TransformTemplate::compile(spec)?.render(spec, partitions)?;
    let produced = engine.query_schema(&sql).await.map_err(|e| -> Error {
        if crate::error::passed_through(&e) {
            // A table the transform reads does not register: the table's error, not the SQL's.
            return crate::error::engine(e);
        }
        transform_error(
            spec,
            None,
            format!("the transform does not plan: {e}"),
            "fix the SQL so that it runs against the warehouse's tables",
        )
        .into()
    })?;
    let fix = "make the transform's SELECT list produce exactly the base table's columns, by name";
    let mut problems = Vec::new();
    for column in &plan.columns {
        match produced.fields().iter().find(|f| f.name() == &column.name) {
            None => problems.push(format!("column `{}` is missing", column.name)),
            Some(f) if !can_cast_types(f.data_type(), &column.data_type) => problems.push(format!(
                "column `{}` is {} and cannot be cast to the base type {}",
                column.name,
                f.data_type(),
                column.sql_type
            )),
            Some(_) => {}
        }
    }
    for f in produced.fields() {
        if !plan.columns.iter().any(|c| &c.name == f.name()) {
            problems.push(format!("column `{}` is not in the base table", f.name()));
        }
    }
    if !problems.is_empty() {
        let base: Vec<&str> = plan.columns.iter().map(|c| c.name.as_str()).collect();
        return Err(transform_error(
            spec,
            None,
            format!(
                "the transform's output does not match `{}` ({}): {}",
                spec.target.table,
                base.join(", "),
                problems.join("; ")
            ),
            fix,
        )
        .into());
    }
    null_partition_keys(engine, plan, &sql).await
}

/// Count the rows of rendered transform `sql` whose partition key is NULL; any is an error.
///
/// Errors: [`Error::Spec`] at the transform when there are some; engine errors.
pub async fn null_partition_keys(engine: &dyn Engine, plan: &Plan, sql: &str) -> Result<(), Error> {
    let spec = &plan.spec;
    let key = quote_ident(&spec.target.partition_key);
    let nulls = engine
        .query(&format!("SELECT count(*) AS n FROM ({sql}) AS t WHERE t.{key} IS NULL"))
        .await
        .map_err(crate::error::engine)?;
    let n = nulls
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>())
        .map_or(0, |a| a.value(0));
    if n > 0 {
        return Err(transform_error(
            spec,
            None,
            format!("the transform produces {n} rows whose partition key `{}` is NULL", spec.target.partition_key),
            "every row needs a partition date; filter or fix rows with a NULL date",
        )
        .into());
    }
    Ok(())
}
