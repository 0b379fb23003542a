//! A TPC-H warehouse for realistic runs: `staging.lineitem` from the `tpchgen` data
//! generator, split into daily `ship_date` partitions, and `finance.daily_revenue` per
//! (revenue_date, return flag, line status, ship mode) with net revenue computed
//! tax-inclusive — the bug `specs/tpch-revenue-fix.yaml` corrects.
//!
//! Dev-only, so that the `backfill` binary does not carry tpchgen: tpchgen and
//! tpchgen-arrow are dev-dependencies, and the tests, the `tpch_warehouse` example and
//! the `tpch` bench include this file as a module of their own (`#[path]`).

use std::path::Path;
use std::sync::Arc;

use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use tpchgen::generators::LineItemGenerator;
use tpchgen_arrow::LineItemArrow;

/// Write the TPC-H warehouse for `scale_factor` under `root` (created if missing).
/// Scale factor 1 is about 6 million line items over 2,526 ship dates.
///
/// Memory stays around one scale factor's worth of rows whatever the scale factor: the
/// generator runs in parts of at most one scale factor each (tpchgen's parts together are
/// the whole table), each part is written to a scratch Parquet file under
/// `root/_generate/`, and the warehouse's tables are then written from those files one
/// ship year at a time (one file per day, rows in key order). The scratch folder is
/// removed at the end.
///
/// Errors: engine or I/O errors, as text.
pub async fn write_tpch(root: &Path, scale_factor: f64) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let scratch = root.join("_generate");
    std::fs::create_dir_all(&scratch).map_err(|e| err(&e))?;
    let parts = scale_factor.ceil().max(1.0) as i32;
    for part in 1..=parts {
        let batches = LineItemArrow::new(LineItemGenerator::new(scale_factor, part, parts))
            .with_batch_size(64 * 1024)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(&e))?;
        let Some(first) = batches.first() else { continue };
        let ctx = SessionContext::new();
        let mem = MemTable::try_new(first.schema(), vec![batches]).map_err(|e| err(&e))?;
        ctx.register_table("lineitem", Arc::new(mem)).map_err(|e| err(&e))?;
        let file = scratch.join(format!("part-{part:03}.parquet"));
        let sql = format!(
            "COPY (SELECT l_orderkey, l_linenumber, l_quantity, l_extendedprice, l_discount, l_tax, \
                    CAST(l_returnflag AS VARCHAR) AS l_returnflag, CAST(l_linestatus AS VARCHAR) AS l_linestatus, \
                    CAST(l_shipmode AS VARCHAR) AS l_shipmode, l_shipdate AS ship_date FROM lineitem) \
             TO '{}' STORED AS PARQUET",
            file.display()
        );
        ctx.sql(&sql).await.map_err(|e| err(&e))?.collect().await.map_err(|e| err(&e))?;
    }
    let ctx = SessionContext::new();
    let scratch_url = format!("{}/", scratch.display());
    ctx.register_parquet("lineitem", &scratch_url, ParquetReadOptions::default()).await.map_err(|e| err(&e))?;
    let at = |rel: &str| root.join(rel).display().to_string();
    let mut statements = Vec::new();
    // TPC-H ship dates fall in 1992..=1998.
    for year in 1992..=1998 {
        statements.push(format!(
            "COPY (SELECT * FROM lineitem \
                   WHERE ship_date >= DATE '{year}-01-01' AND ship_date < DATE '{}-01-01' \
                   ORDER BY ship_date, l_orderkey, l_linenumber) \
             TO '{}/' STORED AS PARQUET PARTITIONED BY (ship_date)",
            year + 1,
            at("staging/lineitem")
        ));
    }
    // The bug: net revenue multiplied by (1 + tax).
    statements.push(format!(
        "COPY (SELECT ship_date AS revenue_date, l_returnflag AS return_flag, \
                l_linestatus AS line_status, l_shipmode AS ship_mode, \
                CAST(sum(l_extendedprice) AS DECIMAL(18, 2)) AS gross_revenue, \
                CAST(sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS DECIMAL(18, 2)) AS net_revenue, \
                count(*) AS line_items \
         FROM lineitem GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4) \
         TO '{}/' STORED AS PARQUET PARTITIONED BY (revenue_date)",
        at("finance/daily_revenue")
    ));
    for sql in statements {
        ctx.sql(&sql).await.map_err(|e| err(&e))?.collect().await.map_err(|e| err(&e))?;
    }
    std::fs::remove_dir_all(&scratch).map_err(|e| err(&e))
}
