//! Parquet footers: row counts and Arrow schemas without reading any data pages.

use std::sync::Arc;

use datafusion::arrow::datatypes::Schema;
use datafusion::parquet::arrow::parquet_to_arrow_schema;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaDataReader;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStoreExt;

use super::{DataFile, Warehouse, WarehouseError};

/// Bytes read from the end of a file on the first try; most footers fit.
const FIRST_READ: u64 = 64 * 1024;

/// What one footer says about its file.
#[derive(Debug, Clone)]
pub struct FileStats {
    /// Rows in the file.
    pub rows: u64,
    /// The file's Arrow schema (partition columns not included: they live in folder names).
    pub schema: Arc<Schema>,
}

/// Read the footer of `file`: one ranged read of its last 64 KiB, a second only when
/// the footer is larger.
///
/// Errors: [`WarehouseError::Footer`] when the object is not valid Parquet;
/// [`WarehouseError::Store`] when it cannot be read.
pub async fn read_footer(wh: &Warehouse, file: &DataFile) -> Result<FileStats, WarehouseError> {
    let fail = |message: String| WarehouseError::Footer {
        location: wh.location().to_string(),
        path: file.path.clone(),
        message,
    };
    let path = ObjectPath::from(file.path.as_str());
    let mut want = FIRST_READ.min(file.size);
    let mut reader = ParquetMetaDataReader::new();
    loop {
        let tail = wh.store().get_range(&path, file.size - want..file.size).await.map_err(|e| wh.store_error(e))?;
        match reader.try_parse_sized(&tail, file.size) {
            Ok(()) => break,
            Err(ParquetError::NeedMoreData(needed)) if (needed as u64) > want && (needed as u64) <= file.size => {
                want = needed as u64
            }
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    let meta = reader.finish().map_err(|e| fail(e.to_string()))?;
    let file_meta = meta.file_metadata();
    let schema = parquet_to_arrow_schema(file_meta.schema_descr(), file_meta.key_value_metadata())
        .map_err(|e| fail(e.to_string()))?;
    Ok(FileStats { rows: file_meta.num_rows().max(0) as u64, schema: Arc::new(schema) })
}
