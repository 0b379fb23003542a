//! `backfill query SQL`.

use backfill::Error;
use datafusion::execution::context::SQLOptions;

use crate::cli::common::{print, warehouse_session, Global};
use crate::cli::output::{format_batches, Format};

/// Run a read-only SQL query over the warehouse's tables and catalog views.
///
/// Every table can be read under its schema.table name, and every view of the latest
/// catalog version (the consumer views included); a table is listed, and its schema read
/// from its files, only when the query reads it. Statements that would write (DDL, DML,
/// COPY) are refused. Needs --warehouse or BACKFILL_WAREHOUSE.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQL, e.g. "SELECT * FROM finance.daily_revenue_current LIMIT 10".
    sql: String,

    /// Output format; csv has a header row, json is an array of objects.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let ctx = warehouse_session(global).await?;
    let read_only = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = ctx.sql_with_options(&args.sql, read_only).await.map_err(|e| {
        if backfill::error::passed_through(&e) {
            // A table the query reads does not register: the table's error, not the SQL's.
            return backfill::error::engine(e);
        }
        Error::Usage(format!("{e}\n  fix: check the SQL; `backfill query` runs one read-only statement"))
    })?;
    let batches = df.collect().await.map_err(backfill::error::engine)?;
    print(&format_batches(&batches, args.format)?)
}
