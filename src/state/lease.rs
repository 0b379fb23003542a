//! The run lease, fenced by generation: `_backfills/<id>/lease/<generation>.json`, one
//! object per holder, each created put-if-absent (`PutMode::Create`, atomic on the local
//! file system, in memory and on S3). The current holder is the highest generation.
//! Taking the lease (first, or over a stale holder) is creating the next generation: of
//! two runs racing for it exactly one wins. A holder renews by rewriting its own
//! generation's object (no other process writes it) and, before each commit — shadow,
//! checkpoint, catalog — checks that no higher generation exists ([`HeldLease::check`]).
//! A paused process whose lease was taken over finds the higher generation and stops
//! (exit 4) without writing. Released generations stay (marked `released`) so that
//! generation numbers never repeat; older ones are pruned when a new one is taken.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::store_err;
use crate::warehouse::Warehouse;
use crate::Error;

use super::{read_json, write_json, BackfillDir};

/// One generation of the run lease: who holds it and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// 1 for the first holder; each takeover adds one.
    pub generation: u64,
    /// The spec's owner.
    pub owner: String,
    /// Process id of the holder.
    pub pid: u32,
    /// Host name of the holder.
    pub host: String,
    /// When it was taken.
    pub acquired_at: DateTime<Utc>,
    /// After this it is stale and any run may take it over; moved on by renewals.
    pub expires_at: DateTime<Utc>,
    /// Given back by its holder: the next run takes the next generation at once.
    #[serde(default)]
    pub released: bool,
}

impl Lease {
    /// Stale: released, expired at `now`, or held by a process of this host that no
    /// longer exists.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.released || now > self.expires_at || (self.host == host_name() && !process_alive(self.pid))
    }

    /// `owner@host pid N (generation G)`, for messages.
    pub fn holder(&self) -> String {
        format!("{}@{} pid {} (generation {})", self.owner, self.host, self.pid, self.generation)
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

/// Generations present under `lease/`, ascending. Names that are not a generation are
/// ignored.
async fn generations(wh: &Warehouse, dir: &BackfillDir) -> Result<Vec<u64>, Error> {
    let listed: Vec<_> = wh.store().list(Some(&dir.leases())).try_collect().await.map_err(|e| store_err(wh, e))?;
    let mut out: Vec<u64> =
        listed.iter().filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok()).collect();
    out.sort_unstable();
    Ok(out)
}

/// The current generation's lease, if any.
///
/// Errors: [`Error::Corrupt`] (exit 3) naming the object when it cannot be read.
pub async fn current(wh: &Warehouse, dir: &BackfillDir) -> Result<Option<Lease>, Error> {
    match generations(wh, dir).await?.last() {
        None => Ok(None),
        Some(&g) => read_json(wh, &dir.lease(g)).await,
    }
}

/// The lease this process holds; see the module documentation.
#[derive(Debug, Clone)]
pub struct HeldLease {
    dir: BackfillDir,
    lease: Lease,
}

/// Take the lease for `owner` at `now`, valid for `ttl`: create the next generation
/// put-if-absent when there is none, or the current one is stale (or with `force`).
///
/// Errors: [`Error::Conflict`] (exit 4) naming the holder when a live lease is held or
/// another run took the lease at the same moment; [`Error::Corrupt`] (exit 3) when the
/// current generation cannot be read.
pub async fn acquire(
    wh: &Warehouse,
    dir: &BackfillDir,
    owner: &str,
    now: DateTime<Utc>,
    ttl: chrono::Duration,
    force: bool,
) -> Result<HeldLease, Error> {
    let held = current(wh, dir).await?;
    if let Some(held) = held.as_ref().filter(|h| !force && !h.is_stale(now)) {
        return Err(Error::Conflict(format!(
            "another run holds the lease {}: {}, since {}, until {}\n  \
             fix: wait for it to finish; if that process is gone, rerun with --force-unlock",
            dir.lease(held.generation),
            held.holder(),
            held.acquired_at.format("%Y-%m-%d %H:%M:%S UTC"),
            held.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
        )));
    }
    let generation = held.as_ref().map_or(1, |h| h.generation + 1);
    let lease = Lease {
        generation,
        owner: owner.to_string(),
        pid: std::process::id(),
        host: host_name(),
        acquired_at: now,
        expires_at: now + ttl,
        released: false,
    };
    let create = PutOptions { mode: PutMode::Create, ..Default::default() };
    let body = PutPayload::from(
        serde_json::to_vec_pretty(&lease)
            .map_err(|e| Error::Io { context: format!("serializing {}", dir.lease(generation)), source: e.into() })?,
    );
    match wh.store().put_opts(&dir.lease(generation), body, create).await {
        Ok(_) => {}
        Err(object_store::Error::AlreadyExists { .. }) => {
            return Err(Error::Conflict(format!(
                "another run took the lease {} at the same moment\n  fix: wait for it to finish",
                dir.lease(generation)
            )))
        }
        Err(e) => return Err(store_err(wh, e)),
    }
    if let Some(h) = held.filter(|h| !h.released) {
        tracing::warn!(holder = %h.holder(), "took over the run lease");
    }
    // Older generations can no longer matter: the fence compares with the highest.
    for old in generations(wh, dir).await?.into_iter().filter(|g| *g + 1 < generation) {
        match wh.store().delete(&dir.lease(old)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(store_err(wh, e)),
        }
    }
    Ok(HeldLease { dir: dir.clone(), lease })
}

impl HeldLease {
    /// The lease as taken (or last renewed).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// The fence: succeed only while no higher generation exists. Called before every
    /// commit of the shadow, a checkpoint or the catalog.
    ///
    /// Errors: [`Error::Conflict`] (exit 4) naming the run that took the lease over.
    pub async fn check(&self, wh: &Warehouse) -> Result<(), Error> {
        let latest = generations(wh, &self.dir).await?.last().copied();
        if latest == Some(self.lease.generation) {
            return Ok(());
        }
        let by = match latest {
            Some(g) => read_json::<Lease>(wh, &self.dir.lease(g))
                .await
                .ok()
                .flatten()
                .map_or_else(|| format!("generation {g}"), |l| l.holder()),
            None => "nobody (the lease folder was emptied)".into(),
        };
        Err(Error::Conflict(format!(
            "this run lost its lease (generation {}) to {by}; it stops without writing anything more\n  \
             fix: none needed if that run goes on; `backfill status SPEC` shows where the backfill stands",
            self.lease.generation
        )))
    }

    /// Move the expiry to `now + ttl`, after checking the fence.
    ///
    /// Errors: as [`HeldLease::check`]; store failures.
    pub async fn renew(&mut self, wh: &Warehouse, now: DateTime<Utc>, ttl: chrono::Duration) -> Result<(), Error> {
        self.check(wh).await?;
        self.lease.expires_at = now + ttl;
        write_json(wh, &self.dir.lease(self.lease.generation), &self.lease).await
    }

    /// Give the lease back, if it is still ours: mark this generation released.
    ///
    /// Errors: store failures (a lost lease is not an error here: there is nothing to give).
    pub async fn release(mut self, wh: &Warehouse) -> Result<(), Error> {
        if self.check(wh).await.is_err() {
            return Ok(());
        }
        self.lease.released = true;
        write_json(wh, &self.dir.lease(self.lease.generation), &self.lease).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone, Utc};

    use super::{acquire, current, process_alive, BackfillDir};
    use crate::warehouse::Warehouse;
    use crate::Error;

    #[test]
    fn this_process_is_alive_and_an_impossible_pid_is_not() {
        assert!(process_alive(std::process::id()));
        if cfg!(target_os = "linux") {
            // Above Linux's largest pid_max (2^22).
            assert!(!process_alive(4_000_000_000));
        }
    }

    #[tokio::test]
    async fn a_takeover_after_expiry_fences_the_first_holder_and_generations_never_repeat() {
        let wh = Warehouse::from_store("memory:///", Arc::new(object_store::memory::InMemory::new()));
        let dir = BackfillDir::new("b");
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ttl = Duration::minutes(60);
        let first = acquire(&wh, &dir, "a", t0, ttl, false).await.unwrap();
        assert_eq!(first.lease().generation, 1);
        // Live (this process exists, not expired): refused.
        let refused = acquire(&wh, &dir, "b", t0 + Duration::minutes(59), ttl, false).await;
        assert!(matches!(refused, Err(Error::Conflict(ref m)) if m.contains("another run holds the lease")));
        first.check(&wh).await.unwrap();
        // Expired: taken over as generation 2; the first holder is fenced off.
        let second = acquire(&wh, &dir, "b", t0 + Duration::minutes(61), ttl, false).await.unwrap();
        assert_eq!(second.lease().generation, 2);
        let lost = first.check(&wh).await.unwrap_err().to_string();
        assert!(lost.contains("this run lost its lease (generation 1) to b@"), "{lost}");
        let mut renewing = first.clone();
        assert!(matches!(renewing.renew(&wh, t0, ttl).await, Err(Error::Conflict(_))));
        // Releasing a lost lease leaves the holder's generation alone.
        first.release(&wh).await.unwrap();
        assert!(!current(&wh, &dir).await.unwrap().unwrap().released);
        second.release(&wh).await.unwrap();
        let third = acquire(&wh, &dir, "c", t0 + Duration::minutes(62), ttl, false).await.unwrap();
        assert_eq!(third.lease().generation, 3, "a released generation is not reused");
    }
}
