//! Rollback from the catalog and the ledger alone (issue 14; DESIGN.md, faults): once
//! published, a backfill rolls back with its transform file deleted and its source table
//! changed, to exactly the rows the view read before publishing (checked by an
//! independent DataFusion session over the base files), running the statement the plan
//! rendered for it; a source table that no longer registers at all is never read, and a
//! shadow that no longer registers is left out. Of the spec, rollback reads only the
//! identity, and checks it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;

use crate::common::seasonal::independent;
use crate::common::{bf, executed_copy, published_copy, query, root};

const BASE_ROWS: &str = "SELECT * FROM finance.daily_revenue ORDER BY revenue_date, merchant_id";
const VIEW_ROWS: &str = "SELECT * FROM finance.daily_revenue_current ORDER BY revenue_date, merchant_id";

/// The fixture spec with its inline transform moved, byte for byte, into `dir/transform.sql`
/// (`transform: file:`), and no `warehouse:` field. Returns the spec's path and the file's.
fn spec_with_transform_file(dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(root().join("specs/revenue-tax-fix.yaml")).unwrap();
    let (head, rest) = text.split_once("transform:\n  sql: |\n").expect("an inline transform");
    let block: Vec<&str> = rest.lines().take_while(|l| l.starts_with("    ")).collect();
    let sql: String = block.iter().map(|l| format!("{}\n", &l[4..])).collect();
    let tail: String = rest.lines().skip(block.len()).map(|l| format!("{l}\n")).collect();
    let head: String = head.lines().filter(|l| !l.starts_with("warehouse:")).map(|l| format!("{l}\n")).collect();
    let (spec, transform) = (dir.join("spec.yaml"), dir.join("transform.sql"));
    std::fs::write(&spec, format!("{head}transform:\n  file: transform.sql\n{tail}")).unwrap();
    std::fs::write(&transform, sql).unwrap();
    (spec, transform)
}

/// The source table changes after publishing: a partition in range is deleted, and
/// another gets a second file with a column the others lack.
fn change_the_source(wh: &Path) {
    let events = wh.join("staging/revenue_events");
    std::fs::remove_dir_all(events.join("revenue_date=2025-03-03")).unwrap();
    let day = events.join("revenue_date=2025-03-04");
    let file = std::fs::read_dir(&day).unwrap().next().unwrap().unwrap().path();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file).unwrap()).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let old = batches[0].schema();
    let mut fields: Vec<Field> = old.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("channel", DataType::Utf8, true));
    let schema = Arc::new(Schema::new(fields));
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(day.join("part-9.parquet")).unwrap(), schema.clone(), None).unwrap();
    for b in &batches {
        let mut columns: Vec<ArrayRef> = b.columns().to_vec();
        columns.push(Arc::new(StringArray::from(vec![Some("web"); b.num_rows()])));
        writer.write(&RecordBatch::try_new(schema.clone(), columns).unwrap()).unwrap();
    }
    writer.close().unwrap();
}

/// Every row of the base table, by an independent DataFusion session over a copy of the
/// base's files alone (other tables, changed or not, play no part), as CSV.
fn base_rows(wh: &Path) -> String {
    let alone = tempfile::tempdir().unwrap();
    crate::common::copy_tree(&wh.join("finance/daily_revenue"), &alone.path().join("finance/daily_revenue"));
    csv(&independent(alone.path(), BASE_ROWS))
}

/// Rows as `backfill query --format csv` prints them.
fn csv(batches: &[RecordBatch]) -> String {
    let mut out = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
        for b in batches {
            w.write(b).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}

/// The consumer view's body in the latest catalog version, read from the file itself.
fn latest_body(wh: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(wh.join("_catalog")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let latest: serde_json::Value = serde_json::from_slice(&std::fs::read(files.last().unwrap()).unwrap()).unwrap();
    latest["views"]["finance.daily_revenue_current"]["sql"].as_str().unwrap().to_string()
}

#[test]
fn rollback_needs_neither_the_transform_file_nor_an_unchanged_source() {
    let wh = executed_copy();
    let wh = wh.path();
    let dir = tempfile::tempdir().unwrap();
    let (spec, transform) = spec_with_transform_file(dir.path());
    let spec = spec.to_str().unwrap();
    let before = query(wh, VIEW_ROWS);
    assert_eq!(before, base_rows(wh), "before publishing, the view reads the base");
    let body_before = latest_body(wh);
    // The statement the plan renders for the rollback, with its place in the plan.
    let (code, plan, err) = bf(wh, &["plan", spec, "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let planned = plan["statements"].as_array().unwrap().iter().find(|s| s["step"] == "rollback").unwrap().clone();

    let (code, _, err) = bf(wh, &["publish", spec, "--approved-by", "finance-lead"]);
    assert_eq!(code, Some(0), "the same transform from a file is the executed plan: {err}");
    assert_ne!(query(wh, VIEW_ROWS), before);

    std::fs::remove_file(&transform).unwrap();
    change_the_source(wh);
    let (code, _, err) = bf(wh, &["validate", spec]);
    assert_eq!(code, Some(2), "compiling the spec needs the transform: {err}");
    assert!(err.contains("transform.file"), "{err}");

    let (code, out, err) = bf(wh, &["rollback", spec, "--approved-by", "finance-lead"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("verified by reading the view back"), "{out}");
    assert_eq!(latest_body(wh), body_before);
    let after = query(wh, VIEW_ROWS);
    assert_eq!(after, base_rows(wh), "after rollback, the view reads the base files");
    assert_eq!(after, before);

    // Saved and run as the plan rendered it, right after the publish's view swap.
    let index = planned["index"].as_u64().unwrap();
    let saved = wh.join(format!("_backfills/revenue-tax-fix-2026-06/sql/{index:04}_rollback.sql"));
    let saved = std::fs::read_to_string(&saved).unwrap_or_else(|e| panic!("{}: {e}", saved.display()));
    assert_eq!(saved, format!("-- rollback\n{};\n", planned["sql"].as_str().unwrap()));

    let (code, out, err) = bf(wh, &["releases", "--format", "csv"]);
    assert_eq!(code, Some(0), "{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(rows.len(), 3, "{out}");
    assert!(rows[1].contains(",rollback,finance.daily_revenue_current,revenue-tax-fix-2026-06-rollback-v4,"), "{out}");
    assert!(rows[1].contains(",2024-12-01..2026-05-31 excluding 2025-12-25,546,0,finance-lead,4,"), "{out}");
    assert!(rows[2].contains(",publish,"), "{out}");
}

#[test]
fn rollback_reads_only_the_identity_of_the_spec_and_checks_it() {
    let wh = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    // Nothing but the identity, and a transform file that does not exist: not published (exit 1).
    let lean = write(
        "lean.yaml",
        "backfill_id: lean-1\ntarget:\n  view: finance.daily_revenue_current\ntransform:\n  file: missing.sql\n",
    );
    let (code, _, err) = bf(wh.path(), &["rollback", &lean]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("refused to roll back lean-1: it is not published in finance.daily_revenue_current"), "{err}");
    let cases = [
        ("target:\n  view: a.v\n", "missing field `backfill_id`"),
        ("backfill_id: Not An Id\ntarget:\n  view: a.v\n", "1:14: backfill_id: `Not An Id` does not match"),
        ("backfill_id: b\ntarget:\n  view: a.v; DROP TABLE x\n", "3:9: target.view: `a.v; DROP TABLE x` is not"),
        ("backfill_id: b\ntarget:\n  keys: [k]\n", "target: names neither `view` nor `table`"),
    ];
    for (i, (text, message)) in cases.iter().enumerate() {
        let spec = write(&format!("bad{i}.yaml"), text);
        let (code, _, err) = bf(wh.path(), &["rollback", &spec]);
        assert_eq!(code, Some(2), "{text}: {err}");
        assert!(err.contains(message), "{text}: expected `{message}` in\n{err}");
        assert!(err.contains("fix:"), "{err}");
    }
}

/// Add to a table's partition folder a file whose `merchant_id` is text: the table's files
/// no longer share a schema, and it no longer registers. Returns the file.
fn break_table(wh: &Path, partition: &str) -> PathBuf {
    let bad = wh.join(partition).join("part-9.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("merchant_id", DataType::Utf8, false)]));
    let mut writer = ArrowWriter::try_new(std::fs::File::create(&bad).unwrap(), schema.clone(), None).unwrap();
    writer.write(&RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(vec!["m-1"]))]).unwrap()).unwrap();
    writer.close().unwrap();
    bad
}

#[test]
fn rollback_leaves_out_a_source_table_that_no_longer_registers() {
    let wh = published_copy();
    let wh = wh.path();
    let executed = executed_copy();
    let source = break_table(wh, "staging/revenue_events/revenue_date=2025-03-04");
    // Tables register when a statement reads them: only statements reading the source fail.
    let (code, _, err) = bf(wh, &["query", "SELECT count(*) FROM staging.revenue_events"]);
    assert_eq!(code, Some(3), "a statement reading the table needs it to register: {err}");
    assert_eq!(query(wh, "SELECT 1 AS one"), "one\n1\n");
    // The published view reads the shadow: when that no longer registers either, the
    // rollback leaves it out (the view's current body then does not plan) and restores
    // the previous body, which reads neither table.
    let shadow = break_table(wh, "finance/daily_revenue_v2/revenue_date=2025-03-04");

    let (code, out, err) = bf(wh, &["rollback", "specs/revenue-tax-fix.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("verified by reading the view back"), "{out}");
    assert!(err.contains("table finance.daily_revenue_v2 does not register"), "{err}");
    assert!(!err.contains("staging.revenue_events"), "the rollback never reads the source: {err}");
    assert_eq!(latest_body(wh), latest_body(executed.path()));
    std::fs::remove_file(&source).unwrap();
    std::fs::remove_file(&shadow).unwrap();
    assert_eq!(query(wh, VIEW_ROWS), query(executed.path(), VIEW_ROWS));
}
