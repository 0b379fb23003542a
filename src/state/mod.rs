//! Shared leaf: a backfill's own files under `_backfills/<backfill_id>/`: the compiled
//! plan, the statements as executed, one checkpoint per batch, the whole-range
//! reconciliation and the run lease. Execute writes them; reconcile, report and publish
//! read them. The run lease is in `lease.rs`.

mod lease;

pub use lease::{acquire, current as current_lease, host_name, HeldLease, Lease};

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::store_err;
use crate::warehouse::Warehouse;
use crate::Error;

/// `_backfills/<id>/` and the paths inside it.
#[derive(Debug, Clone)]
pub struct BackfillDir {
    root: String,
}

impl BackfillDir {
    /// The folder of backfill `id`.
    pub fn new(id: &str) -> Self {
        Self { root: format!("_backfills/{id}") }
    }
    /// `plan.json`.
    pub fn plan(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/plan.json", self.root))
    }
    /// `lease/`, the run lease's generations.
    pub fn leases(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/lease", self.root))
    }
    /// `lease/NNNNNNNNNN.json`, generation `generation` of the run lease.
    pub fn lease(&self, generation: u64) -> ObjectPath {
        ObjectPath::from(format!("{}/lease/{generation:010}.json", self.root))
    }
    /// `range.json`: the whole-range reconciliation, written when the last batch is done.
    pub fn range(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/range.json", self.root))
    }
    /// `batches/`.
    pub fn batches(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/batches", self.root))
    }
    /// `batches/NNNN.json`.
    pub fn checkpoint(&self, batch: u32) -> ObjectPath {
        ObjectPath::from(format!("{}/batches/{batch:04}.json", self.root))
    }
    /// `sql/NNNN_<step>.sql` for statement `index`.
    pub fn sql(&self, index: usize, name: &str) -> ObjectPath {
        ObjectPath::from(format!("{}/sql/{index:04}_{name}.sql", self.root))
    }
    /// `sql/`, the folder of the statements as executed.
    pub fn sql_dir(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/sql", self.root))
    }
    /// `staging/NNNN/`, where a batch's write lands before its commit.
    pub fn staging(&self, batch: u32) -> ObjectPath {
        ObjectPath::from(format!("{}/staging/{batch:04}", self.root))
    }
    /// The folder itself.
    pub fn root(&self) -> ObjectPath {
        ObjectPath::from(self.root.as_str())
    }
}

/// `plan.json`: what the run executes, so a rerun can tell whether the plan changed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRecord {
    /// The plan fingerprint (hex sha256).
    pub fingerprint: String,
    /// The normalized spec, as fingerprinted.
    pub spec: serde_json::Value,
    /// Batches in the plan.
    pub batches: u32,
    /// When the run began.
    pub started_at: DateTime<Utc>,
}

/// The first 12 characters of a plan fingerprint, for messages (all of it when shorter,
/// e.g. in a damaged `plan.json`).
pub fn short_fingerprint(fingerprint: &str) -> &str {
    fingerprint.get(..12).unwrap_or(fingerprint)
}

/// Where a batch stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Written, committed, reconciled, passed.
    Done,
    /// Stopped by a gate, a timeout or an error; rerun to retry.
    Failed,
}

/// Milliseconds per phase of one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// The write into staging.
    pub write_ms: f64,
    /// Moving staged files into the shadow (waiting for the shadow lock included).
    pub commit_ms: f64,
    /// Reading the batch's partitions of base and shadow, and every reconciliation statement.
    pub reconcile_ms: f64,
}

/// An object as it was when a batch read it: a base file when the batch was reconciled
/// (publish compares), or a source file when the batch was written (a resumed run
/// compares). Two versions differ when size, e_tag or version differ: a rewrite of the
/// same size is caught by its e_tag (the local file system's covers inode and mtime,
/// S3's the content).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectVersion {
    /// Object path from the warehouse root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The store's entity tag, when it gives one (absent in checkpoints of older runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    /// The store's object version, when versioning is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl ObjectVersion {
    /// The version of the object `meta` describes.
    pub fn of(meta: &object_store::ObjectMeta) -> Self {
        Self {
            path: meta.location.to_string(),
            size: meta.size,
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
        }
    }

    /// Whether `now` is a different version of the same object. An e_tag or version
    /// missing on either side (a checkpoint of an older run) is not a difference.
    pub fn differs(&self, now: &ObjectVersion) -> bool {
        let both = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(x), Some(y)) if x != y);
        self.size != now.size || both(&self.e_tag, &now.e_tag) || both(&self.version, &now.version)
    }
}

/// `batches/NNNN.json`. `O` is what the run's checks recorded about the batch (for
/// backfill's runs, `reconcile::BatchOutcome`: the reconciliation and every gate's
/// verdict), stored flat among the checkpoint's own fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound = "O: Serialize + serde::de::DeserializeOwned + Default")]
pub struct Checkpoint<O> {
    /// Batch number.
    pub batch: u32,
    /// Where it stands.
    pub state: BatchState,
    /// Attempts so far, this one included (1 on the first try).
    pub attempt: u32,
    /// The plan fingerprint it ran under.
    pub fingerprint: String,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Its partitions.
    pub partitions: Vec<NaiveDate>,
    /// Rows committed into the shadow.
    pub rows_written: u64,
    /// Bytes the write read, as measured by the engine.
    pub bytes_scanned: u64,
    /// Where its time went.
    #[serde(default)]
    pub timings: Timings,
    /// What the run's checks found (empty when the batch failed before them).
    #[serde(flatten, default)]
    pub outcome: O,
    /// The base files of its partitions when it was reconciled.
    pub base_files: Vec<ObjectVersion>,
    /// The source objects its write read, as listed before the write (empty in
    /// checkpoints of older runs).
    #[serde(default)]
    pub sources: Vec<ObjectVersion>,
    /// Why it failed, when it did.
    pub reason: Option<String>,
}

/// Read a JSON object, or `None` when it does not exist.
///
/// Errors: store failures; a corrupt file is a runtime error naming it.
pub async fn read_json<T: for<'de> Deserialize<'de>>(wh: &Warehouse, path: &ObjectPath) -> Result<Option<T>, Error> {
    match wh.store().get(path).await {
        Ok(got) => {
            let bytes = got.bytes().await.map_err(|e| store_err(wh, e))?;
            serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::DamagedState {
                path: path.to_string(),
                problem: e.to_string(),
                fix: repair_hint(path).into(),
            })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_err(wh, e)),
    }
}

/// How to repair the damaged state file at `path`, by its kind.
fn repair_hint(path: &ObjectPath) -> &'static str {
    let name = path.to_string();
    if name.contains("/batches/") {
        "delete this checkpoint: its batch is run again on the next `run --execute`"
    } else if name.contains("/lease/") {
        "make sure no run of this backfill is going, then delete the lease/ folder next to it"
    } else if name.ends_with("/plan.json") {
        "rerun with `run --execute --restart`, which writes it again and runs every batch"
    } else if name.ends_with("/range.json") {
        "delete it: `run --execute` computes it again once every batch is done"
    } else {
        "restore it from a backup, or delete it if it can be rebuilt"
    }
}

/// Write a JSON object, replacing any earlier one (a single atomic put).
pub async fn write_json<T: Serialize>(wh: &Warehouse, path: &ObjectPath, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Io { context: format!("serializing {path}"), source: e.into() })?;
    wh.store().put(path, PutPayload::from(bytes)).await.map_err(|e| store_err(wh, e))?;
    Ok(())
}

/// Every checkpoint of the backfill, by batch number.
pub async fn checkpoints<O: Serialize + serde::de::DeserializeOwned + Default>(
    wh: &Warehouse,
    dir: &BackfillDir,
) -> Result<Vec<Checkpoint<O>>, Error> {
    let metas: Vec<_> = wh.store().list(Some(&dir.batches())).try_collect().await.map_err(|e| store_err(wh, e))?;
    let mut out = Vec::new();
    for m in metas {
        if m.location.extension() == Some("json") {
            if let Some(c) = read_json::<Checkpoint<O>>(wh, &m.location).await? {
                out.push(c);
            }
        }
    }
    out.sort_by_key(|c| c.batch);
    Ok(out)
}

/// The index of the statement of step `name` saved most recently under `dir`'s `sql/`
/// (`NNNN_<name>.sql`, see [`BackfillDir::sql`]), or `None` when none is saved.
///
/// Errors: store failures.
pub async fn saved_statement_index(wh: &Warehouse, dir: &BackfillDir, name: &str) -> Result<Option<usize>, Error> {
    let metas: Vec<_> = wh.store().list(Some(&dir.sql_dir())).try_collect().await.map_err(|e| store_err(wh, e))?;
    let suffix = format!("_{name}.sql");
    Ok(metas
        .iter()
        .filter_map(|m| {
            let index = m.location.filename()?.strip_suffix(suffix.as_str())?.parse::<usize>().ok()?;
            Some((m.last_modified, index))
        })
        .max()
        .map(|(_, index)| index))
}

/// Delete every object under `prefix`.
pub async fn delete_prefix(wh: &Warehouse, prefix: &ObjectPath) -> Result<(), Error> {
    let metas: Vec<_> = wh.store().list(Some(prefix)).try_collect().await.map_err(|e| store_err(wh, e))?;
    for m in metas {
        match wh.store().delete(&m.location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_err(wh, e)),
        }
    }
    Ok(())
}
