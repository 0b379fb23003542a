//! Reading one partition's rows straight from its Parquet files: one listing of the
//! partition folder, one GET per file, decoded by the parquet crate. No query is planned,
//! so reading a handful of small partitions costs milliseconds, not the tens of
//! milliseconds a DataFusion scan spends planning (reconciliation reads two sides of
//! every batch this way). Also: finding which file of the warehouse does not read, when
//! the engine failed decoding Parquet without saying.

use std::sync::Arc;

use datafusion::arrow::array::{new_null_array, ArrayRef};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{DefaultParquetFileReaderFactory, ParquetFileReaderFactory};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::arrow::ParquetRecordBatchStreamBuilder;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::{stream, FutureExt, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;

use super::{read_footer, DataFile, Warehouse, WarehouseError};
use crate::spec::TableName;

/// One partition's rows and the files they came from.
#[derive(Debug, Clone, Default)]
pub struct PartitionRows {
    /// Every object in the partition folder (Parquet or not), by path.
    pub files: Vec<DataFile>,
    /// The rows of its Parquet files, each batch in `schema` (see [`read_partition`]).
    pub rows: Vec<RecordBatch>,
}

/// Read partition `key=value` of `table` into `schema`: the table's schema as the
/// session registered it, partition column included. Each file's columns are taken by
/// name and cast to the schema's types; a column a file lacks reads as NULL; the
/// partition column is `value` cast to its type. A missing folder reads as no rows.
///
/// Errors: [`WarehouseError::Store`] when listing or reading fails;
/// [`WarehouseError::Data`] when a file is not valid Parquet or a column cannot be cast
/// (e.g. a shadow whose types drifted from the base).
pub async fn read_partition(
    wh: &Warehouse,
    table: &TableName,
    key: &str,
    value: &str,
    schema: &SchemaRef,
) -> Result<PartitionRows, WarehouseError> {
    let objects = list_partition(wh, table, key, value).await?;
    let mut out = PartitionRows { files: data_files(&objects, key, value), rows: Vec::new() };
    for object in objects.iter().filter(|m| m.location.extension() == Some("parquet")) {
        let fail = |message: String| WarehouseError::Data {
            location: wh.location().to_string(),
            path: object.location.to_string(),
            message,
        };
        let bytes = wh
            .store()
            .get(&object.location)
            .await
            .map_err(|e| wh.store_error(e))?
            .bytes()
            .await
            .map_err(|e| wh.store_error(e))?;
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(bytes).and_then(|b| b.build()).map_err(|e| fail(e.to_string()))?;
        for batch in reader {
            let batch = batch.map_err(|e| fail(e.to_string()))?;
            out.rows.push(conform(&batch, schema, key, value).map_err(fail)?);
        }
    }
    Ok(out)
}

/// The objects in partition folder `key=value` of `table`, by path; none for a
/// missing folder. Errors: [`WarehouseError::Store`] when listing fails.
async fn list_partition(
    wh: &Warehouse,
    table: &TableName,
    key: &str,
    value: &str,
) -> Result<Vec<object_store::ObjectMeta>, WarehouseError> {
    let folder = ObjectPath::from(format!("{}{key}={value}", table.prefix()));
    let mut objects: Vec<_> = wh.store().list(Some(&folder)).try_collect().await.map_err(|e| wh.store_error(e))?;
    objects.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(objects)
}

fn data_files(objects: &[object_store::ObjectMeta], key: &str, value: &str) -> Vec<DataFile> {
    objects
        .iter()
        .map(|m| DataFile {
            path: m.location.to_string(),
            size: m.size,
            e_tag: m.e_tag.clone(),
            version: m.version.clone(),
            partition: vec![(key.to_string(), value.to_string())],
        })
        .collect()
}

/// Partition `key=value` of `table` as [`read_partition`] would give it, without its
/// rows: the objects in its folder. Errors: [`WarehouseError::Store`].
pub async fn partition_files(
    wh: &Warehouse,
    table: &TableName,
    key: &str,
    value: &str,
) -> Result<PartitionRows, WarehouseError> {
    let objects = list_partition(wh, table, key, value).await?;
    Ok(PartitionRows { files: data_files(&objects, key, value), rows: Vec::new() })
}

/// `batch` in `schema`'s column order and types, with `key` filled with `value`.
fn conform(batch: &RecordBatch, schema: &SchemaRef, key: &str, value: &str) -> Result<RecordBatch, String> {
    let n = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| -> Result<ArrayRef, String> {
            if field.name() == key {
                let scalar = ScalarValue::try_from_string(value.to_string(), field.data_type())
                    .map_err(|e| format!("partition value `{value}`: {e}"))?;
                return scalar.to_array_of_size(n).map_err(|e| e.to_string());
            }
            match batch.column_by_name(field.name()) {
                None => Ok(new_null_array(field.data_type(), n)),
                Some(c) if c.data_type() == field.data_type() => Ok(Arc::clone(c)),
                Some(c) => cast(c, field.data_type()).map_err(|e| format!("column `{}`: {e}", field.name())),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| e.to_string())
}

/// A Parquet file that does not read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableFile {
    /// Object path from the warehouse root.
    pub path: String,
    /// The reader's message.
    pub problem: String,
}

/// Footers read at once while looking for unreadable files.
const FOOTERS_AT_ONCE: usize = 16;
/// Whole files decoded at once while looking for unreadable files.
const FILES_AT_ONCE: usize = 4;

/// Decode every page of `file`, keeping no rows: `Ok` when the whole file reads, else
/// the reader's message (a reader panic included: it is caught, never propagated).
pub async fn check_file(wh: &Warehouse, file: &DataFile) -> Result<(), String> {
    let decode = async {
        let factory = DefaultParquetFileReaderFactory::new(Arc::clone(wh.store()));
        let reader: Box<dyn AsyncFileReader> = factory
            .create_reader(
                0,
                PartitionedFile::new(file.path.as_str(), file.size),
                None,
                &ExecutionPlanMetricsSet::new(),
            )
            .map_err(|e| e.to_string())?;
        let mut batches =
            ParquetRecordBatchStreamBuilder::new(reader).await.and_then(|b| b.build()).map_err(|e| e.to_string())?;
        while batches.try_next().await.map_err(|e| e.to_string())?.is_some() {}
        Ok(())
    };
    std::panic::AssertUnwindSafe(decode)
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err("the Parquet reader panicked on this file".into()))
}

/// The unreadable files among `groups` (see [`Warehouse::find_unreadable`]): every
/// footer first; then whole files, group by group, until `budget` bytes are decoded (what
/// is decoded is taken off `budget`) or a group has an unreadable file. Sorted by path.
pub(super) async fn find_unreadable(wh: &Warehouse, groups: &[Vec<DataFile>], budget: &mut u64) -> Vec<UnreadableFile> {
    let footers = stream::iter(groups.iter().flatten().map(|f| async move {
        let problem = match read_footer(wh, f).await {
            Ok(_) => return None,
            Err(WarehouseError::Footer { message, .. }) => message,
            Err(WarehouseError::Store { source, .. }) => source.to_string(),
            Err(e) => e.to_string(),
        };
        Some(UnreadableFile { path: f.path.clone(), problem })
    }));
    let mut bad: Vec<UnreadableFile> =
        footers.buffer_unordered(FOOTERS_AT_ONCE).filter_map(std::future::ready).collect().await;
    let left = budget;
    for group in groups {
        if !bad.is_empty() {
            break;
        }
        let taken = group.iter().take_while(|f| match left.checked_sub(f.size) {
            Some(rest) => {
                *left = rest;
                true
            }
            None => false,
        });
        let checks = stream::iter(taken.map(|f| async move {
            check_file(wh, f).await.err().map(|problem| UnreadableFile { path: f.path.clone(), problem })
        }));
        bad = checks.buffer_unordered(FILES_AT_ONCE).filter_map(std::future::ready).collect().await;
    }
    bad.sort_by(|a, b| a.path.cmp(&b.path));
    bad
}
