//! Partition pruning once per scan (`execute::pruning`): every filter on the partition
//! column returns exactly the rows a plain DataFusion listing table returns.

use std::sync::Arc;

use backfill::catalog;
use backfill::execute::session::{self, SessionOptions};
use backfill::warehouse::Warehouse;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::SessionContext;

use crate::common::fixture_warehouse;

async fn text(ctx: &SessionContext, sql: &str) -> String {
    let batches = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await.unwrap();
    pretty_format_batches(&batches).unwrap().to_string()
}

#[tokio::test]
async fn pruned_scans_return_the_rows_of_a_plain_listing_table() {
    let wh = Warehouse::open(&fixture_warehouse().display().to_string()).unwrap();
    let ctx = session::open(&wh, &catalog::latest(&wh).await.unwrap(), &SessionOptions::default()).await.unwrap();
    // The same files as an ordinary listing table, pruned file by file by DataFusion.
    let url = ListingTableUrl::parse(format!("{}staging/revenue_events/", backfill::render::WAREHOUSE_URL)).unwrap();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![("revenue_date".into(), DataType::Date32)]);
    let config = ListingTableConfig::new(url).with_listing_options(options).infer_schema(&ctx.state()).await.unwrap();
    ctx.register_table("plain", Arc::new(ListingTable::try_new(config).unwrap())).unwrap();

    let filters = [
        "revenue_date = DATE '2025-01-01'",
        "revenue_date BETWEEN DATE '2024-12-30' AND DATE '2025-01-02'",
        "revenue_date IN (DATE '2024-11-01', DATE '2026-06-30', DATE '2027-01-01')",
        "revenue_date > DATE '2026-06-20' AND merchant_id < 5",
        "revenue_date >= DATE '2025-01-01' AND revenue_date < DATE '2025-04-01'",
        "revenue_date = DATE '2030-01-01'",
        "merchant_id = 3",
        "CAST(revenue_date AS VARCHAR) LIKE '2025-02-%'",
    ];
    for filter in filters {
        let query = |table: &str| {
            format!(
                "SELECT revenue_date, count(*) AS n, sum(merchant_id) AS m FROM {table} \
                 WHERE {filter} GROUP BY 1 ORDER BY 1"
            )
        };
        let (pruned, plain) = (text(&ctx, &query("staging.revenue_events")).await, text(&ctx, &query("plain")).await);
        assert_eq!(pruned, plain, "{filter}");
    }
    // A filter matching more partitions than a union is worth goes to the wrapped table.
    let wide = "SELECT count(*) AS n FROM {t} WHERE revenue_date BETWEEN DATE '2024-11-01' AND DATE '2025-06-30'";
    assert_eq!(
        text(&ctx, &wide.replace("{t}", "staging.revenue_events")).await,
        text(&ctx, &wide.replace("{t}", "plain")).await
    );
    let n = text(
        &ctx,
        "SELECT count(DISTINCT revenue_date) AS days FROM staging.revenue_events \
         WHERE revenue_date BETWEEN DATE '2024-12-30' AND DATE '2025-01-02'",
    )
    .await;
    assert!(n.contains("| 4    |"), "{n}");
}
