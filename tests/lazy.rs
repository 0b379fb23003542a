//! Tables and catalog views register when a statement first reads them
//! (`execute::session::open`): a table whose files do not read, and a catalog view over
//! it, trouble only the statements that read them. Every command of a backfill that
//! does not read them works; a query that reads the table names the file (exit 3).

use std::sync::Arc;

use backfill::catalog;
use backfill::execute::session::{self, SessionOptions};
use backfill::warehouse::Warehouse;
use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;

use crate::common::{bf, count, warehouse_copy};
use crate::execute::spec_for;

const BROKEN_FILE: &str = "junk/broken/day=2025-01-01/part-0.parquet";

/// A copy of the fixture with one more table, `junk.broken`, whose only file is not
/// Parquet, and a catalog version adding the view `junk.broken_view` over it.
fn warehouse_with_broken_table() -> tempfile::TempDir {
    let wh = warehouse_copy();
    let file = wh.path().join(BROKEN_FILE);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, vec![0x5A; 900]).unwrap();
    let v1 = std::fs::read_to_string(wh.path().join("_catalog/v00000001.json")).unwrap();
    let mut catalog: serde_json::Value = serde_json::from_str(&v1).unwrap();
    catalog["version"] = 2.into();
    catalog["views"]["junk.broken_view"] = serde_json::json!({ "sql": "SELECT count(*) AS n FROM junk.broken" });
    std::fs::write(wh.path().join("_catalog/v00000002.json"), serde_json::to_string_pretty(&catalog).unwrap()).unwrap();
    wh
}

#[test]
fn a_broken_table_the_backfill_does_not_read_troubles_no_command() {
    let wh = warehouse_with_broken_table();
    let spec = spec_for(wh.path(), &[]);
    let spec = spec.to_str().unwrap();
    for args in [&["validate", spec][..], &["plan", spec], &["run", spec], &["run", spec, "--execute"]] {
        let (code, _, err) = bf(wh.path(), args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
    }
    let (code, _, err) = bf(wh.path(), &["publish", spec, "--approved-by", "finance-lead"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = bf(wh.path(), &["query", "SELECT count(*) AS n FROM reporting.revenue_ytd"]);
    assert_eq!(code, Some(0), "catalog views over readable tables still plan: {err}");
    assert!(out.contains('1'), "{out}");

    // Statements that read the table, directly or through the view, fail naming its file.
    for sql in ["SELECT count(*) FROM junk.broken", "SELECT * FROM junk.broken_view"] {
        let (code, _, err) = bf(wh.path(), &["query", sql]);
        assert_eq!(code, Some(3), "{sql}: {err}");
        assert!(err.contains(&format!("cannot read `{BROKEN_FILE}`")), "{sql}: {err}");
    }
}

#[tokio::test]
async fn a_session_registers_a_table_on_first_use_and_a_registered_table_hides_it() {
    let wh = warehouse_with_broken_table();
    let wh = Warehouse::open(&wh.path().display().to_string()).unwrap();
    let current = catalog::latest(&wh).await.unwrap();

    // Tables must register: the broken one fails the statement that reads it, with our error.
    let ctx = session::open(&wh, &current, &SessionOptions::default()).await.unwrap();
    let schema = ctx.catalog("datafusion").unwrap().schema("junk").unwrap();
    assert_eq!(schema.table_names(), ["broken", "broken_view"], "names come from folders and the catalog");
    assert!(schema.table_exist("broken"));
    assert!(count(&ctx, "SELECT count(*) FROM finance.daily_revenue").await > 0);
    let e = ctx.sql("SELECT * FROM junk.broken").await.unwrap_err();
    assert!(backfill::error::passed_through(&e), "{e}");
    let e = backfill::error::engine(e);
    assert!(matches!(e, backfill::Error::Engine(_)) && e.to_string().contains("Parquet"), "{e}");

    // Tables may be left out: the broken one then is no table at all.
    let opts = SessionOptions { skip_unregistrable: true, ..SessionOptions::default() };
    let ctx = session::open(&wh, &current, &opts).await.unwrap();
    let e = ctx.sql("SELECT * FROM junk.broken").await.unwrap_err().to_string();
    assert!(e.contains("junk.broken") && e.contains("not found"), "{e}");
    let schema = ctx.catalog("datafusion").unwrap().schema("junk").unwrap();
    assert!(!schema.table_exist("broken"), "known to be left out");
    assert!(ctx.sql("SELECT * FROM junk.broken_view").await.is_err(), "the view over it does not plan");

    // A table registered under the name hides the folder, and deregistering drops the name.
    let one = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let rows = RecordBatch::try_new(one.clone(), vec![Arc::new(Int64Array::from(vec![7]))]).unwrap();
    let ctx = session::open(&wh, &current, &SessionOptions::default()).await.unwrap();
    ctx.register_table("junk.broken", Arc::new(MemTable::try_new(one, vec![vec![rows]]).unwrap())).unwrap();
    assert_eq!(count(&ctx, "SELECT sum(n) FROM junk.broken").await, 7);
    assert_eq!(count(&ctx, "SELECT n FROM junk.broken_view").await, 1, "the view reads the registered table");
    ctx.deregister_table("junk.broken").unwrap();
    assert!(ctx.sql("SELECT * FROM junk.broken").await.is_err());
}
