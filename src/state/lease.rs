//! The run lease, split from the state root for length: `_backfills/<id>/lock` names the
//! run that holds the backfill (owner, process, host, expiry); it is taken put-if-absent,
//! taken over when stale (expired, or its process is gone from this host) and given back
//! only by its holder.

use chrono::{DateTime, Utc};
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::store_err;
use crate::warehouse::Warehouse;
use crate::Error;

use super::{read_json, write_json, BackfillDir};

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
