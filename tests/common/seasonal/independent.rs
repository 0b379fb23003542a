//! The independent check, split from the generator for length: a plain DataFusion
//! session over the raw Parquet files, using nothing from the backfill crate, and the
//! single-cell reader the tests compare figures with.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

/// `(schema, table, folder, partition key, key is a date)`.
type TableFolder = (String, String, PathBuf, Option<(String, bool)>);

/// The tables under `wh`: `(schema, table, folder, partition key, key is a date)` for
/// every `<schema>/<table>` folder, skipping names starting with `_` or `.` and the
/// `governance` schema. The key comes from the first `k=v` subfolder.
fn tables(wh: &Path) -> Vec<TableFolder> {
    let names = |dir: &Path| -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
            .map(|it| {
                it.map(|e| e.expect("entry"))
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
                    .collect()
            })
            .unwrap_or_default();
        out.retain(|(n, _)| !n.starts_with('_') && !n.starts_with('.'));
        out.sort();
        out
    };
    let mut out = Vec::new();
    for (schema, schema_dir) in names(wh) {
        if schema == "governance" {
            continue;
        }
        for (table, table_dir) in names(&schema_dir) {
            let key = names(&table_dir).into_iter().find_map(|(n, _)| {
                let (k, v) = n.split_once('=')?;
                Some((k.to_string(), NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()))
            });
            out.push((schema.clone(), table, table_dir, key));
        }
    }
    out
}

async fn independent_async(wh: &Path, sql: &str) -> Vec<RecordBatch> {
    use datafusion::catalog::MemorySchemaProvider;
    use datafusion::common::TableReference;
    use datafusion::prelude::{ParquetReadOptions, SessionContext};

    let ctx = SessionContext::new();
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    for (schema, table, folder, key) in tables(wh) {
        if catalog.schema(&schema).is_none() {
            catalog.register_schema(&schema, Arc::new(MemorySchemaProvider::new())).expect("register schema");
        }
        let cols = key
            .map(|(k, is_date)| vec![(k, if is_date { DataType::Date32 } else { DataType::Utf8 })])
            .unwrap_or_default();
        let options = ParquetReadOptions::default().table_partition_cols(cols);
        ctx.register_parquet(
            TableReference::partial(schema.as_str(), table.as_str()),
            folder.to_str().expect("utf-8 path"),
            options,
        )
        .await
        .unwrap_or_else(|e| panic!("register {schema}.{table}: {e}"));
    }
    let df = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    df.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Run `sql` in a plain DataFusion session over the raw files under `wh`: every
/// `<schema>/<table>` folder (shadow tables such as `ops.flight_delays__flight_delay_fix`
/// included; `_*` folders and the `governance` schema skipped) is registered as a
/// Parquet listing table named `<schema>.<table>`, its hive partition column typed
/// Date32 (Utf8 if the folder value is not a date). Uses nothing from the backfill
/// crate: this is the independent check. Runs on a runtime of its own in a thread of
/// its own, so async tests may call it too.
pub fn independent(wh: &Path, sql: &str) -> Vec<RecordBatch> {
    let (wh, sql) = (wh.to_path_buf(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(independent_async(&wh, &sql))
    })
    .join()
    .expect("independent query thread")
}

/// The single cell of `column` in `batches` (exactly one row in all), formatted by
/// arrow's display: decimals keep their scale ("123.40"), NULL is "".
pub fn scalar_text(batches: &[RecordBatch], column: &str) -> String {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1, "expected one row, got {rows}");
    let batch = batches.iter().find(|b| b.num_rows() == 1).expect("the row");
    let array = batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column} in {:?}", batch.schema()));
    datafusion::arrow::util::display::array_value_to_string(array, 0).expect("display")
}
