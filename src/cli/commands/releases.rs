//! `backfill releases`.

use backfill::Error;

use crate::cli::common::{print, warehouse_session, Global};
use crate::cli::output::{format_batches, Format};

/// Show the release ledger, governance.data_releases: every publish and rollback.
///
/// Newest first. The table shows the main columns; --format csv or json gives every column
/// (source_range, code_version, the full fingerprint, metric_deltas too).
///
/// First writes any ledger row a crash left out (from the catalog, which holds each
/// release). Needs --warehouse or BACKFILL_WAREHOUSE.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let ctx = warehouse_session(global).await?;
    // No ledger yet: DataFusion has no `governance` schema then, and `table_exist` would fail on it.
    let ledger = ctx.catalog("datafusion").and_then(|c| c.schema("governance"));
    if !ledger.is_some_and(|schema| schema.table_exist("data_releases")) {
        return print("no releases yet\n");
    }
    // The table shows what fits a terminal; csv and json carry every column.
    let columns = match args.format {
        Format::Table => {
            "published_at, action, dataset, release_id, partitions, rows_written, \
             approved_by, catalog_version, substr(plan_fingerprint, 1, 12) AS fingerprint"
        }
        _ => {
            "published_at, action, dataset, release_id, source_range, partitions, rows_written, \
             approved_by, catalog_version, plan_fingerprint, code_version, metric_deltas"
        }
    };
    let sql =
        format!("SELECT {columns} FROM governance.data_releases ORDER BY published_at DESC, catalog_version DESC");
    let batches =
        ctx.sql(&sql).await.map_err(backfill::error::engine)?.collect().await.map_err(backfill::error::engine)?;
    print(&format_batches(&batches, args.format)?)
}
