//! The engine harness (`common::engines`) on real engines: the fixture's two tables loaded
//! into PostgreSQL and DuckDB give exactly DataFusion's rows (column order, types and value
//! printing included), a script stops at its first failing statement, and a table of every
//! mapped type (NULLs, an empty string, quotes) loads and prints as DataFusion reads it.
//!
//! Run them alone with `cargo test --test runner -- engines`.

use crate::common::engines::{datafusion_rows, DuckDb, Postgres, SqlEngine};
use crate::common::fixture_warehouse;

const TABLES: [&str; 2] = ["finance.daily_revenue", "staging.revenue_events"];

/// Queries whose rows every engine must print as DataFusion does.
const QUERIES: [&str; 3] = [
    "SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM finance.daily_revenue ORDER BY 1, 2",
    "SELECT count(*), sum(tax_amount) FROM staging.revenue_events",
    "SELECT * FROM staging.revenue_events ORDER BY revenue_date, merchant_id LIMIT 5",
];

/// The loaded columns of finance.daily_revenue: name, type, precision, scale.
const COLUMNS: &str =
    "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns \
                       WHERE table_schema = 'finance' AND table_name = 'daily_revenue' ORDER BY ordinal_position";

/// Whether `name` is a table of `engine`'s (as `0` or `1`).
fn table_count(engine: &impl SqlEngine, name: &str) -> Vec<String> {
    engine.rows(&format!("SELECT count(*) FROM information_schema.tables WHERE table_name = '{name}'"))
}

/// Load the fixture into `engine`, compare its rows with DataFusion's, check its column types
/// against `columns`, and run a script whose second of three statements fails.
async fn check(engine: &impl SqlEngine, columns: &[&str]) {
    let wh = fixture_warehouse();
    for table in TABLES {
        engine.load_table(&wh, table);
    }
    for sql in QUERIES {
        let expected = datafusion_rows(&wh, &TABLES, sql).await;
        assert!(!expected.is_empty(), "{sql}");
        assert_eq!(engine.rows(sql), expected, "{sql}");
    }
    // Spot checks of the printed form: scale kept, dates ISO, no header.
    let first = datafusion_rows(&wh, &TABLES, QUERIES[0]).await;
    assert_eq!(first.len(), 12140);
    let printed = regex::Regex::new(r"^\d{4}-\d\d-\d\d\|\d+\|-?\d+\.\d\d\|-?\d+\.\d\d$").unwrap();
    assert!(first.iter().all(|row| printed.is_match(row)), "{:?}", &first[..3]);
    assert_eq!(engine.rows(COLUMNS), columns);

    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("stops.sql");
    let sql =
        "CREATE TABLE before_error (a INTEGER);\nSELECT * FROM no_such_table;\nCREATE TABLE after_error (a INTEGER);\n";
    std::fs::write(&script, sql).expect("write script");
    let err = engine.try_run_script(&script).expect_err("the script fails");
    assert!(err.contains("no_such_table"), "{err}");
    assert_eq!(table_count(engine, "before_error"), ["1"]);
    assert_eq!(table_count(engine, "after_error"), ["0"], "the statement after the error ran");
}

#[tokio::test]
async fn postgres_loads_the_fixture_as_datafusion_reads_it() {
    let columns = [
        "merchant_id|bigint|64|0",
        "gross_revenue|numeric|18|2",
        "net_revenue|numeric|18|2",
        "revenue_date|date|NULL|NULL",
    ];
    check(&Postgres::start(), &columns).await;
}

#[tokio::test]
async fn duckdb_loads_the_fixture_as_datafusion_reads_it() {
    let columns = [
        "merchant_id|BIGINT|64|0",
        "gross_revenue|DECIMAL(18,2)|18|2",
        "net_revenue|DECIMAL(18,2)|18|2",
        "revenue_date|DATE|NULL|NULL",
    ];
    check(&DuckDb::new(), &columns).await;
}

/// A warehouse with one table `ops.kinds` of every mapped type, partitioned by `day`; values
/// chosen to print alike in every engine (whole-second timestamps, short doubles), with
/// NULLs, an empty string, quotes, a separator and negative and zero decimals.
fn kinds_warehouse() -> tempfile::TempDir {
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array, StringArray,
        TimestampMicrosecondArray,
    };
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;

    let dir = tempfile::tempdir().expect("tempdir");
    for (day, base) in [("2025-06-19", 0), ("2025-06-20", 10)] {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("i", Arc::new(Int32Array::from(vec![base + 1, base + 2, base + 3]))),
            ("big", Arc::new(Int64Array::from(vec![Some(9_007_199_254_740_993), None, Some(-1)]))),
            (
                "amount",
                Arc::new(
                    Decimal128Array::from(vec![Some(168_987), Some(0), Some(-5)])
                        .with_precision_and_scale(18, 2)
                        .expect("decimal"),
                ),
            ),
            ("ratio", Arc::new(Float64Array::from(vec![Some(1.5), Some(-0.25), None]))),
            ("flag", Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]))),
            ("label", Arc::new(StringArray::from(vec![Some("plain"), Some(""), Some("say \"hi\", | ok")]))),
            ("ts", Arc::new(TimestampMicrosecondArray::from(vec![Some(1_750_327_200_000_000), None, Some(0)]))),
            ("d", Arc::new(Date32Array::from(vec![Some(20_258), Some(0), None]))),
        ];
        let batch = RecordBatch::try_from_iter(columns).expect("batch");
        let folder = dir.path().join(format!("ops/kinds/day={day}"));
        std::fs::create_dir_all(&folder).expect("mkdir");
        let file = std::fs::File::create(folder.join("part-0.parquet")).expect("create");
        let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
    dir
}

/// Every mapped type loads and prints as in DataFusion (booleans through a cast to text).
async fn check_kinds(engine: &impl SqlEngine) {
    let wh = kinds_warehouse();
    engine.load_table(wh.path(), "ops.kinds");
    let sql = "SELECT i, big, amount, ratio, CAST(flag AS VARCHAR), label, ts, d, day FROM ops.kinds ORDER BY i";
    let expected = datafusion_rows(wh.path(), &["ops.kinds"], sql).await;
    assert_eq!(engine.rows(sql), expected, "{sql}");
}

#[tokio::test]
async fn postgres_loads_every_mapped_type() {
    check_kinds(&Postgres::start()).await;
}

#[tokio::test]
async fn duckdb_loads_every_mapped_type() {
    check_kinds(&DuckDb::new()).await;
}
