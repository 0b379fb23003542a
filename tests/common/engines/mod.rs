//! Real SQL engines for tests of rendered scripts: a throwaway PostgreSQL cluster
//! ([`Postgres`]) and a DuckDB database file ([`DuckDb`]), each driven by its own
//! command-line client and loaded with tables of a warehouse; and [`datafusion_rows`], the
//! same rows from DataFusion over the warehouse files, printed the same way, to compare.
//!
//! Rows print as text joined by `|`, NULL as `NULL`. The three engines agree on INTEGER,
//! BIGINT, DECIMAL/NUMERIC with a scale (`1689.87`, `0.00`, `-0.05`), DATE (`2025-06-19`),
//! text and whole-second TIMESTAMPs (`2025-06-19 10:00:00`). They do not on BOOLEAN (psql
//! prints `t`/`f`, the others `true`/`false`: cast to VARCHAR in the query), on fractional
//! seconds (DataFusion `10:00:00.500`, the others `10:00:00.5`), nor on every DOUBLE:
//! `1e20` is `1e20` in DataFusion, `1e+20` in the others; `1.0` is `1` in psql.

pub mod duckdb;
pub mod postgres;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub use duckdb::DuckDb;
pub use postgres::Postgres;

/// An engine that runs SQL scripts with its own client.
pub trait SqlEngine {
    /// Create `table` ("schema.table", creating the schema if needed) and load every row of
    /// that hive-partitioned Parquet table of the warehouse at `warehouse`. Columns are named
    /// and ordered as DataFusion's `SELECT *` over the listing table shows them (file columns,
    /// then the partition columns), typed by [`Dialect::sql_type`].
    fn load_table(&self, warehouse: &Path, table: &str);
    /// Run a script file from the top with the engine's client, stopping at the first error.
    /// Panics with the client's stderr and stdout on failure. Returns stdout.
    fn run_script(&self, path: &Path) -> String {
        self.try_run_script(path).unwrap_or_else(|e| panic!("script {} failed:\n{e}", path.display()))
    }
    /// Like [`SqlEngine::run_script`] but returns `Err(stderr + stdout)` instead of panicking.
    fn try_run_script(&self, path: &Path) -> Result<String, String>;
    /// The rows of a query, each row its values as text joined by `|`, NULL printed as `NULL`,
    /// no header, in the order the query gives.
    fn rows(&self, sql: &str) -> Vec<String>;
}

/// The rows of `sql` in DataFusion over the files of the warehouse at `warehouse`, printed as
/// [`SqlEngine::rows`] prints them; `tables` ("schema.table") are registered as
/// hive-partitioned Parquet listing tables (see [`register`]). Panics on any error.
pub async fn datafusion_rows(warehouse: &Path, tables: &[&str], sql: &str) -> Vec<String> {
    let ctx = SessionContext::new();
    for table in tables {
        register(&ctx, warehouse, table).await;
    }
    let df = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let batches = df.collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let options = format_options().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &batches {
        let columns = formatters(batch, &options);
        rows.extend(
            (0..batch.num_rows())
                .map(|row| columns.iter().map(|column| column.value(row).to_string()).collect::<Vec<_>>().join("|")),
        );
    }
    rows
}

/// The SQL dialect of an engine, for the DDL of loaded tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// DuckDB.
    DuckDb,
}

impl Dialect {
    /// The column type for an Arrow type: Int32 → INTEGER, Int64 → BIGINT, Decimal128(p,s) →
    /// NUMERIC(p,s) / DECIMAL(p,s), Date32 → DATE, Utf8 (and its large and view forms) →
    /// TEXT / VARCHAR, Float64 → DOUBLE PRECISION / DOUBLE, Boolean → BOOLEAN, a Timestamp
    /// without time zone → TIMESTAMP. Panics on any other type.
    pub fn sql_type(self, data_type: &DataType) -> String {
        let postgres = self == Dialect::Postgres;
        match data_type {
            DataType::Int32 => "INTEGER".into(),
            DataType::Int64 => "BIGINT".into(),
            DataType::Decimal128(p, s) => format!("{}({p},{s})", if postgres { "NUMERIC" } else { "DECIMAL" }),
            DataType::Date32 => "DATE".into(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                if postgres { "TEXT" } else { "VARCHAR" }.into()
            }
            DataType::Float64 => if postgres { "DOUBLE PRECISION" } else { "DOUBLE" }.into(),
            DataType::Boolean => "BOOLEAN".into(),
            DataType::Timestamp(_, None) => "TIMESTAMP".into(),
            other => panic!("no {self:?} column type for the Arrow type {other}"),
        }
    }
}

/// Register `table` ("schema.table") of `warehouse` in `ctx` as a Parquet listing table over
/// `<warehouse>/<schema>/<table>/`, its hive partition columns (`<col>=<value>` folders,
/// outermost first) typed Date32 when every value is a date, Int64 when every value is an
/// integer, else Utf8.
async fn register(ctx: &SessionContext, warehouse: &Path, table: &str) {
    let (schema, name) = split(table);
    let catalog = ctx.catalog("datafusion").expect("default catalog");
    if catalog.schema(schema).is_none() {
        catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new())).expect("register schema");
    }
    let folder = warehouse.join(schema).join(name);
    let options = ParquetReadOptions::default().table_partition_cols(partition_columns(&folder));
    let path = format!("{}/", folder.to_str().expect("utf-8 path"));
    ctx.register_parquet(TableReference::partial(schema, name), &path, options)
        .await
        .unwrap_or_else(|e| panic!("register {table} at {path}: {e}"));
}

/// The hive partition columns under `folder`, outermost first, typed from their values.
fn partition_columns(folder: &Path) -> Vec<(String, DataType)> {
    let mut columns = Vec::new();
    let mut level = vec![folder.to_path_buf()];
    loop {
        let mut key = None;
        let mut values = Vec::new();
        let mut next = Vec::new();
        for dir in &level {
            for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())) {
                let entry = entry.expect("folder entry");
                let file_name = entry.file_name().to_string_lossy().into_owned();
                let Some((k, v)) = file_name.split_once('=') else { continue };
                if entry.file_type().expect("file type").is_dir() {
                    key.get_or_insert_with(|| k.to_string());
                    values.push(v.to_string());
                    next.push(entry.path());
                }
            }
        }
        let Some(key) = key else { return columns };
        let all = |ok: fn(&str) -> bool| values.iter().all(|v| ok(v));
        let data_type = if all(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()) {
            DataType::Date32
        } else if all(|v| v.parse::<i64>().is_ok()) {
            DataType::Int64
        } else {
            DataType::Utf8
        };
        columns.push((key, data_type));
        level = next;
    }
}

/// Options of every value printed or exported: TIMESTAMPs as PostgreSQL and DuckDB print them.
fn format_options() -> FormatOptions<'static> {
    FormatOptions::new().with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
}

/// A formatter per column of `batch`.
fn formatters<'a>(batch: &'a RecordBatch, options: &FormatOptions<'a>) -> Vec<ArrayFormatter<'a>> {
    batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), options).expect("formatter")).collect()
}

/// `"schema"."table"` for "schema.table".
fn qualified(table: &str) -> String {
    let (schema, name) = split(table);
    format!("{}.{}", quoted(schema), quoted(name))
}

/// A double-quoted SQL identifier.
fn quoted(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// ("schema", "table") of "schema.table"; panics on any other shape.
fn split(table: &str) -> (&str, &str) {
    match table.split_once('.') {
        Some((schema, name)) if !schema.is_empty() && !name.is_empty() && !name.contains('.') => (schema, name),
        _ => panic!("a table is named schema.table, not {table:?}"),
    }
}

/// Write `table` of `warehouse` as `<dir>/<table>.csv` (a header, then every row: values
/// double-quoted, NULL an empty unquoted field) and a script `<dir>/load-<table>.sql` that
/// creates the table in `dialect` and copies the CSV file in; the script's path. DataFusion
/// reads the table on a runtime of its own in a thread of its own, so async tests may call this.
fn load_script(dir: &Path, dialect: Dialect, warehouse: &Path, table: &str) -> PathBuf {
    let csv = dir.join(format!("{table}.csv"));
    let columns = std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
            rt.block_on(export_csv(warehouse, table, &csv))
        })
        .join()
        .expect("export thread")
    });
    let file = csv.to_str().expect("utf-8 path");
    assert!(!file.contains('\''), "a CSV path without quotes: {file}");
    let target = qualified(table);
    let definitions: Vec<String> =
        columns.iter().map(|(name, t)| format!("{} {}", quoted(name), dialect.sql_type(t))).collect();
    let mut script = format!("CREATE SCHEMA IF NOT EXISTS {};\n", quoted(split(table).0));
    writeln!(script, "CREATE TABLE {target} ({});", definitions.join(", ")).expect("write");
    match dialect {
        Dialect::Postgres => writeln!(script, "\\copy {target} FROM '{file}' WITH (FORMAT csv, HEADER true)"),
        // Without allow_quoted_nulls=false DuckDB would read a quoted empty string as NULL.
        Dialect::DuckDb => writeln!(
            script,
            "COPY {target} FROM '{file}' (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', \
             NULL '', allow_quoted_nulls false);"
        ),
    }
    .expect("write");
    let path = dir.join(format!("load-{table}.sql"));
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// `SELECT * FROM table` in DataFusion, written to `csv`: its columns, names and types.
async fn export_csv(warehouse: &Path, table: &str, csv: &Path) -> Vec<(String, DataType)> {
    let ctx = SessionContext::new();
    register(&ctx, warehouse, table).await;
    let (schema, name) = split(table);
    let df = ctx.table(TableReference::partial(schema, name)).await.unwrap_or_else(|e| panic!("{table}: {e}"));
    let columns: Vec<(String, DataType)> =
        df.schema().fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let batches = df.collect().await.unwrap_or_else(|e| panic!("read {table}: {e}"));
    let csv_quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let mut text = columns.iter().map(|(name, _)| csv_quoted(name)).collect::<Vec<_>>().join(",");
    text.push('\n');
    let options = format_options();
    for batch in &batches {
        let formatters = formatters(batch, &options);
        for row in 0..batch.num_rows() {
            let fields: Vec<String> = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(
                    |(array, f)| if array.is_null(row) { String::new() } else { csv_quoted(&f.value(row).to_string()) },
                )
                .collect();
            text.push_str(&fields.join(","));
            text.push('\n');
        }
    }
    std::fs::write(csv, text).unwrap_or_else(|e| panic!("write {}: {e}", csv.display()));
    columns
}
