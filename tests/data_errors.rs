//! Errors that point at the data: a damaged Parquet file is named by its object path
//! (exit 3) whichever command meets it, and a `key=__HIVE_DEFAULT_PARTITION__` folder
//! (Hive's folder for NULL partition values) is tolerated: its rows read as NULL, lie
//! outside the source range, stay visible through the view swap, and a transform that
//! emits them is refused (exit 2).

use std::fs::File;
use std::path::Path;

use datafusion::arrow::array::RecordBatchReader;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ArrowWriter;

use crate::common::{backfill, tree_digest, warehouse_copy};
use crate::execute::{execute, spec_for};

const EVENTS_FILE: &str = "staging/revenue_events/revenue_date=2025-03-03/part-0.parquet";
const NULL_FOLDER: &str = "revenue_date=__HIVE_DEFAULT_PARTITION__";

/// `backfill <args>` (the spec names the warehouse): (exit code, stdout, stderr).
fn bf(args: &[&str], spec: &Path) -> (Option<i32>, String, String) {
    let out = backfill().args(args).arg(spec).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Overwrite every byte between the leading magic and the footer: the footer (schema,
/// row counts) still reads, the data pages do not.
fn corrupt_pages(file: &Path) {
    let mut bytes = std::fs::read(file).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    bytes[4..n - 8 - footer].fill(0xAB);
    std::fs::write(file, bytes).unwrap();
}

/// Write the rows of `template` (a file of the same table) into `table/<NULL_FOLDER>/part-0.parquet`
/// with the parquet crate's writer, in the template's schema; returns the row count.
fn write_null_partition(table: &Path, template: &str) -> usize {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(File::open(table.join(template)).unwrap()).unwrap().build().unwrap();
    let schema = reader.schema();
    let dir = table.join(NULL_FOLDER);
    std::fs::create_dir_all(&dir).unwrap();
    let mut writer = ArrowWriter::try_new(File::create(dir.join("part-0.parquet")).unwrap(), schema, None).unwrap();
    let mut rows = 0;
    for batch in reader {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
    rows
}

#[test]
fn corrupt_source_pages_are_named_by_the_dry_run_and_execute() {
    let wh = warehouse_copy();
    corrupt_pages(&wh.path().join(EVENTS_FILE));
    let spec = spec_for(wh.path(), &[]);

    let before = tree_digest(wh.path());
    let (code, _, err) = bf(&["run"], &spec);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(&format!("cannot read `{EVENTS_FILE}`")), "{err}");
    assert!(err.contains("fix: restore the file"), "{err}");
    assert_eq!(tree_digest(wh.path()), before, "the dry run writes nothing");

    let out = execute(&spec, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("cannot read `{EVENTS_FILE}`")), "{err}");
    assert!(err.contains("the engine stopped with:"), "{err}");
}

#[test]
fn truncated_source_file_is_named_by_every_command() {
    let wh = warehouse_copy();
    let file = wh.path().join(EVENTS_FILE);
    let len = std::fs::metadata(&file).unwrap().len();
    File::options().write(true).open(&file).unwrap().set_len(len / 2).unwrap();
    let spec = spec_for(wh.path(), &[]);
    for args in [&["validate"][..], &["plan"], &["run"], &["run", "--execute"]] {
        let out = backfill().arg(args[0]).arg(&spec).args(&args[1..]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(err.contains(&format!("cannot read the Parquet footer of `{EVENTS_FILE}`")), "{args:?}: {err}");
    }
}

#[test]
fn garbage_base_file_outside_the_range_is_named() {
    let wh = warehouse_copy();
    let file = "finance/daily_revenue/revenue_date=2024-11-05/part-0.parquet";
    std::fs::write(wh.path().join(file), vec![0x5A; 900]).unwrap();
    let spec = spec_for(wh.path(), &[]);
    let out = execute(&spec, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("cannot read `{file}`")), "{err}");
    let out = backfill()
        .arg("--warehouse")
        .arg(wh.path())
        .args(["query", "SELECT count(*) FROM finance.daily_revenue"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("cannot read `{file}`")), "{err}");
}

#[test]
fn null_partition_of_the_base_is_left_as_it_is_and_kept_by_the_view() {
    let wh = warehouse_copy();
    let rows = write_null_partition(&wh.path().join("finance/daily_revenue"), "revenue_date=2025-03-03/part-0.parquet");
    assert!(rows > 0);
    let spec = spec_for(wh.path(), &[]);

    let out = execute(&spec, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("`finance.daily_revenue` has 1 Parquet file(s) in {NULL_FOLDER}")), "{err}");
    assert!(
        err.contains("their rows have a NULL revenue_date, lie outside the source range and are left as they are"),
        "{err}"
    );
    assert!(!wh.path().join("finance/daily_revenue_v2").join(NULL_FOLDER).exists());

    let (code, _, err) = bf(&["publish", "--approved-by", "x"], &spec);
    assert_eq!(code, Some(0), "{err}");
    let count = |table: &str| {
        let sql = format!("SELECT count(*) AS n FROM {table} WHERE revenue_date IS NULL");
        let out =
            backfill().arg("--warehouse").arg(wh.path()).args(["query", &sql, "--format", "csv"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(count("finance.daily_revenue"), format!("n\n{rows}\n"), "the folder's rows read as NULL");
    assert_eq!(
        count("finance.daily_revenue_current"),
        format!("n\n{rows}\n"),
        "the view swap keeps rows whose partition key is NULL"
    );
}

#[test]
fn transform_reading_null_source_partition_is_refused() {
    let wh = warehouse_copy();
    write_null_partition(&wh.path().join("staging/revenue_events"), "revenue_date=2025-03-03/part-0.parquet");
    let filter = "WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }}";
    let spec = spec_for(wh.path(), &[(filter, &format!("{filter} OR revenue_date IS NULL"))]);
    for extra in [&[][..], &["--execute"]] {
        let out = backfill().arg("run").arg(&spec).args(extra).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("the transform produces 20 rows whose partition key `revenue_date` is NULL"),
            "{extra:?}: {err}"
        );
        assert!(
            err.contains(&format!("`staging.revenue_events` has 1 Parquet file(s) in {NULL_FOLDER}")),
            "{extra:?}: {err}"
        );
    }
    let shadow = wh.path().join("finance/daily_revenue_v2");
    assert!(
        !shadow.exists() || walkdir::WalkDir::new(&shadow).into_iter().all(|e| e.unwrap().file_type().is_dir()),
        "nothing is written under the shadow"
    );
}
