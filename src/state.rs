//! Shared leaf: a backfill's own files under `_backfills/<backfill_id>/`: the compiled
//! plan, the statements as executed, one checkpoint per batch, the whole-range
//! reconciliation and the run lease. Execute writes them; reconcile, report and publish
//! read them.

use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
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
    /// `lock`.
    pub fn lock(&self) -> ObjectPath {
        ObjectPath::from(format!("{}/lock", self.root))
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

/// A base file as it was when the batch was reconciled; publish compares against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaseFile {
    /// Object path.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
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
    pub base_files: Vec<BaseFile>,
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
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::Corrupt { path: path.to_string(), message: e.to_string() })
        }
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(store_err(wh, e)),
    }
}

/// Write a JSON object, replacing any earlier one (a single atomic put).
pub async fn write_json<T: Serialize>(wh: &Warehouse, path: &ObjectPath, value: &T) -> Result<(), Error> {
    let bytes = serde_json::to_vec_pretty(value).expect("serializes");
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

/// The run lease: who holds `_backfills/<id>/lock` and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The spec's owner.
    pub owner: String,
    /// Process id of the holder.
    pub pid: u32,
    /// Host name of the holder.
    pub host: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// After this it is stale and any run may take it over.
    pub expires_at: DateTime<Utc>,
}

impl Lease {
    /// A lease for this process, valid for `ttl`.
    pub fn mine(owner: &str, now: DateTime<Utc>, ttl: chrono::Duration) -> Self {
        Self {
            owner: owner.to_string(),
            pid: std::process::id(),
            host: host_name(),
            acquired_at: now,
            expires_at: now + ttl,
        }
    }

    /// Same holder: owner, process, host and acquisition time (renewals move only the expiry).
    pub fn same_holder(&self, other: &Lease) -> bool {
        self.owner == other.owner
            && self.pid == other.pid
            && self.host == other.host
            && self.acquired_at == other.acquired_at
    }

    /// Stale: expired, or held by a process of this host that no longer exists.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        now > self.expires_at || (self.host == host_name() && !process_alive(self.pid))
    }
}

/// This machine's host name (from `/etc/hostname` or `HOSTNAME`), or `unknown`.
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` exists on this machine (asked of sysinfo). Where that cannot be
/// told, assume it does.
fn process_alive(pid: u32) -> bool {
    use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};
    let Ok(mut system) = System::new_with_specifics(RefreshKind::nothing()) else {
        return true;
    };
    let pid = Pid::from_u32(pid);
    system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), true, ProcessRefreshKind::nothing());
    system.process(pid).is_some()
}

/// Take the lease: create `lock` put-if-absent. An existing stale lease (or any lease,
/// with `force`) is taken over.
///
/// Errors: [`Error::Conflict`] (exit 4) naming the holder when a live lease is held.
pub async fn acquire(wh: &Warehouse, dir: &BackfillDir, mine: &Lease, force: bool) -> Result<(), Error> {
    let payload = || PutPayload::from(serde_json::to_vec_pretty(mine).expect("serializes"));
    let create = PutOptions { mode: PutMode::Create, ..Default::default() };
    match wh.store().put_opts(&dir.lock(), payload(), create).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let held: Option<Lease> = read_json(wh, &dir.lock()).await?;
            let Some(held) = held else {
                return Err(Error::Conflict("the run lease vanished while being taken; run again".into()));
            };
            if force || held.is_stale(mine.acquired_at) {
                tracing::warn!(
                    holder = %format!("{}@{} pid {}", held.owner, held.host, held.pid),
                    "taking over the run lease"
                );
                write_json(wh, &dir.lock(), mine).await
            } else {
                Err(Error::Conflict(format!(
                    "another run holds the lease {}: owner {}, pid {} on {}, since {}, until {}\n  \
                     fix: wait for it to finish; if that process is gone, rerun with --force-unlock",
                    dir.lock(),
                    held.owner,
                    held.pid,
                    held.host,
                    held.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    held.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                )))
            }
        }
        Err(e) => Err(store_err(wh, e)),
    }
}

/// Give the lease back (only if it is still ours).
pub async fn release(wh: &Warehouse, dir: &BackfillDir, mine: &Lease) -> Result<(), Error> {
    if read_json::<Lease>(wh, &dir.lock()).await?.is_some_and(|held| held.same_holder(mine)) {
        match wh.store().delete(&dir.lock()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_err(wh, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::process_alive;

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_not() {
        assert!(process_alive(std::process::id()));
        if cfg!(target_os = "linux") {
            // Above Linux's largest pid_max (2^22).
            assert!(!process_alive(4_000_000_000));
        }
    }
}
