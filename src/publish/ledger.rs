//! The release ledger `governance.data_releases`: one Parquet file per release, named by
//! its release id, so writing a row twice (a repair after a crash) leaves one row.
//! Every catalog version that made a release carries the full row; [`repair`] writes the
//! rows a crash left out.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::catalog::{self, Release};
use crate::error::store_err;
use crate::warehouse::Warehouse;
use crate::Error;

/// Folder of the ledger's files under the warehouse root.
pub const LEDGER_PREFIX: &str = "governance/data_releases";

/// The ledger's columns, in DESIGN.md's order.
pub fn schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, false);
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    Arc::new(Schema::new(vec![
        text("dataset"),
        text("release_id"),
        text("action"),
        Field::new("published_at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        text("source_range"),
        int("partitions"),
        text("code_version"),
        text("plan_fingerprint"),
        text("approved_by"),
        int("catalog_version"),
        int("rows_written"),
        text("metric_deltas"),
    ]))
}

fn path_of(release_id: &str) -> ObjectPath {
    ObjectPath::from(format!("{LEDGER_PREFIX}/{release_id}.parquet"))
}

/// Write `r`'s row (replacing an earlier write of the same release).
///
/// Errors: store failures; Parquet encoding failures (runtime).
pub async fn write(wh: &Warehouse, r: &Release) -> Result<(), Error> {
    let text = |v: &str| Arc::new(StringArray::from(vec![v.to_string()])) as ArrayRef;
    let int = |v: u64| Arc::new(Int64Array::from(vec![v as i64])) as ArrayRef;
    let columns = vec![
        text(&r.dataset),
        text(&r.release_id),
        text(&r.action.to_string()),
        Arc::new(TimestampMicrosecondArray::from(vec![r.published_at.timestamp_micros()]).with_timezone("UTC"))
            as ArrayRef,
        text(&r.source_range),
        int(r.partitions),
        text(&r.code_version),
        text(&r.plan_fingerprint),
        text(&r.approved_by),
        int(r.catalog_version),
        int(r.rows_written),
        text(&r.metric_deltas),
    ];
    let corrupt = |message: String| Error::Corrupt { path: path_of(&r.release_id).to_string(), message };
    let batch = RecordBatch::try_new(schema(), columns).map_err(|e| corrupt(e.to_string()))?;
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema(), None).map_err(|e| corrupt(e.to_string()))?;
    writer.write(&batch).map_err(|e| corrupt(e.to_string()))?;
    writer.close().map_err(|e| corrupt(e.to_string()))?;
    wh.store().put(&path_of(&r.release_id), PutPayload::from(bytes)).await.map_err(|e| store_err(wh, e))?;
    Ok(())
}

/// Write the ledger row of every catalog release that has none (a crash between a
/// catalog commit and its row), and say so: a warning on stderr per row, `repaired the
/// ledger: release <id> had a catalog version (v<N>) but no ledger row`. Returns the
/// release ids repaired.
///
/// Errors: store failures; a corrupt catalog version.
pub async fn repair(wh: &Warehouse) -> Result<Vec<String>, Error> {
    let mut repaired = Vec::new();
    for n in catalog::versions(wh).await? {
        let version = catalog::read(wh, n).await?;
        let Some(release) = version.release else { continue };
        match wh.store().head(&path_of(&release.release_id)).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => {
                write(wh, &release).await?;
                tracing::warn!(
                    "repaired the ledger: release {} had a catalog version (v{n}) but no ledger row \
                     (a crash after its catalog commit); wrote the row from the catalog",
                    release.release_id
                );
                repaired.push(release.release_id);
            }
            Err(e) => return Err(store_err(wh, e)),
        }
    }
    Ok(repaired)
}
