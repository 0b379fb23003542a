//! A Ballista session lists a table's files afresh for every statement: with two batches
//! in flight, a listing cached by one batch's statement could hide the files the other
//! batch has just committed from its reconciliation (seen on TPC-H as a partition of the
//! shadow read as 0 rows).

use backfill::catalog;
use backfill::execute::session::{self, SessionOptions};
use backfill::warehouse::Warehouse;

use crate::common::{count, warehouse_copy};

#[tokio::test]
async fn a_ballista_statement_sees_a_file_committed_after_an_earlier_statement_listed_the_table() {
    let dir = warehouse_copy();
    let wh = Warehouse::open(&dir.path().display().to_string()).unwrap();
    let current = catalog::latest(&wh).await.unwrap();
    let ctx = session::open(&wh, &current, &SessionOptions::default()).await.unwrap();
    let cluster = backfill::execute::ballista::connect(&ctx, None).await.unwrap();
    let sql = "SELECT count(*) FROM finance.daily_revenue WHERE revenue_date = DATE '2024-11-01'";
    let before = count(&cluster, sql).await;
    assert!(before > 0, "the fixture has rows on 2024-11-01");

    // What a batch's commit does: a new file in the partition's folder.
    let folder = dir.path().join("finance/daily_revenue/revenue_date=2024-11-01");
    std::fs::copy(folder.join("part-0.parquet"), folder.join("b0001-a001-000.parquet")).unwrap();

    assert_eq!(count(&cluster, sql).await, 2 * before, "the second statement reads both files");
}
