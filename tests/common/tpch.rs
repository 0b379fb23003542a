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
use datafusion::prelude::SessionContext;
use tpchgen::generators::LineItemGenerator;
use tpchgen_arrow::LineItemArrow;

/// Write the TPC-H warehouse for `scale_factor` under `root` (created if missing).
/// Scale factor 1 is about 6 million line items over 2,526 ship dates.
///
/// Errors: engine or I/O errors, as text.
pub async fn write_tpch(root: &Path, scale_factor: f64) -> Result<(), String> {
    let batches = LineItemArrow::new(LineItemGenerator::new(scale_factor, 1, 1))
        .with_batch_size(64 * 1024)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let Some(first) = batches.first() else { return Err("the generator produced nothing".into()) };
    let schema = first.schema();
    let mem = MemTable::try_new(schema, vec![batches]).map_err(|e| e.to_string())?;
    let ctx = SessionContext::new();
    ctx.register_table("lineitem", Arc::new(mem)).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(root).map_err(|e| e.to_string())?;
    let at = |rel: &str| root.join(rel).display().to_string();
    let statements = [
        format!(
            "COPY (SELECT l_orderkey, l_linenumber, l_quantity, l_extendedprice, l_discount, l_tax, \
                    CAST(l_returnflag AS VARCHAR) AS l_returnflag, CAST(l_linestatus AS VARCHAR) AS l_linestatus, \
                    CAST(l_shipmode AS VARCHAR) AS l_shipmode, l_shipdate AS ship_date \
             FROM lineitem ORDER BY l_shipdate, l_orderkey, l_linenumber) \
             TO '{}/' STORED AS PARQUET PARTITIONED BY (ship_date)",
            at("staging/lineitem")
        ),
        // The bug: net revenue multiplied by (1 + tax).
        format!(
            "COPY (SELECT l_shipdate AS revenue_date, CAST(l_returnflag AS VARCHAR) AS return_flag, \
                    CAST(l_linestatus AS VARCHAR) AS line_status, CAST(l_shipmode AS VARCHAR) AS ship_mode, \
                    CAST(sum(l_extendedprice) AS DECIMAL(18, 2)) AS gross_revenue, \
                    CAST(sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS DECIMAL(18, 2)) AS net_revenue, \
                    count(*) AS line_items \
             FROM lineitem GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4) \
             TO '{}/' STORED AS PARQUET PARTITIONED BY (revenue_date)",
            at("finance/daily_revenue")
        ),
    ];
    for sql in statements {
        ctx.sql(&sql).await.map_err(|e| e.to_string())?.collect().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
