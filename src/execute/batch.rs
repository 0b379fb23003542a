//! One batch of `run --execute`, from start to checkpoint: wait for the live pipeline,
//! check partition keys, write into the staging prefix, commit into the shadow, hand the
//! batch to the run's [`Checks`] (reconciliation and gates), checkpoint. Every statement
//! runs through the [`Engine`], which saves it under `_backfills/<id>/sql/` first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Int64Array, UInt64Array};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::checks::{Checked, Checks};
use super::engine::Engine;
use super::output;
use super::progress::{Finished, Progress};
use crate::clock;
use crate::error::store_err;
use crate::failpoint;
use crate::plan::transform::TransformTemplate;
use crate::plan::{Batch, Plan};
use crate::render::RenderedPlan;
use crate::state::{self, BackfillDir, BatchState, Checkpoint, HeldLease, ObjectVersion, Timings};
use crate::warehouse::Warehouse;
use crate::Error;

/// How long a lease lasts before another run may take it over; renewed after each batch.
pub const LEASE_TTL_MINUTES: i64 = 60;

/// What a batch's write did, for its checkpoint (all zero and empty when it failed first).
#[derive(Default)]
struct Written {
    rows_written: u64,
    bytes_scanned: u64,
    timings: Timings,
    sources: Vec<ObjectVersion>,
}

/// What every batch of one run shares.
pub(super) struct BatchRunner<C: Checks> {
    pub(super) plan: Arc<Plan>,
    pub(super) rendered: Arc<RenderedPlan>,
    pub(super) wh: Warehouse,
    pub(super) engine: Arc<dyn Engine>,
    pub(super) checks: Arc<C>,
    pub(super) dir: BackfillDir,
    /// This run's lease: checked before every commit, renewed after every batch.
    pub(super) lease: tokio::sync::Mutex<HeldLease>,
    pub(super) progress: Arc<dyn Progress>,
    /// Held while a batch commits and the engine forgets the shadow's cached listing.
    pub(super) shadow_lock: tokio::sync::Mutex<()>,
}

impl<C: Checks> BatchRunner<C> {
    /// Wait while the live pipeline's marker exists, renewing the lease every minute, for
    /// at most `live_pipeline_max_wait`.
    ///
    /// Errors: [`Error::Timeout`] (exit 3) when the wait gives up: nothing of `batch` was
    /// written, and a rerun resumes here; a lost lease (exit 4); store failures.
    async fn wait_for_live_pipeline(&self, batch: &Batch) -> Result<(), Error> {
        let execution = &self.plan.spec.execution;
        let Some(marker) = &execution.live_pipeline_marker else { return Ok(()) };
        let path = ObjectPath::from(marker.as_str());
        let started = Instant::now();
        // Renewed when the wait begins (the marker may have been there a while) and each minute.
        let mut renewed: Option<Instant> = None;
        loop {
            match self.wh.store().head(&path).await {
                Err(object_store::Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(store_err(&self.wh, e)),
                Ok(_) if started.elapsed() >= execution.live_pipeline_max_wait => {
                    return Err(Error::Timeout(format!(
                        "stopped before batch {}: the live pipeline marker {marker} was still there after {} \
                         (execution.live_pipeline_max_wait); nothing of this batch was written\n  \
                         fix: rerun when the live pipeline is done; done batches are kept",
                        batch.number,
                        humantime::format_duration(execution.live_pipeline_max_wait)
                    )))
                }
                Ok(_) => {
                    if renewed.is_none() {
                        self.progress.waiting(&format!(
                            "live pipeline marker {marker} exists: waiting for the live pipeline to finish \
                             (at most {}; the run lease is renewed meanwhile)",
                            humantime::format_duration(execution.live_pipeline_max_wait)
                        ));
                    }
                    if renewed.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                        self.renew().await?;
                        renewed = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// The fence: fail unless this run still holds the lease.
    async fn fence(&self) -> Result<(), Error> {
        self.lease.lock().await.check(&self.wh).await
    }

    /// Write `checkpoint`, fenced: only while this run holds the lease.
    async fn save(&self, checkpoint: &Checkpoint<C::Outcome>) -> Result<(), Error> {
        self.fence().await?;
        state::write_json(&self.wh, &self.dir.checkpoint(checkpoint.batch), checkpoint).await
    }

    /// Move the lease's expiry on (fenced).
    async fn renew(&self) -> Result<(), Error> {
        let ttl = chrono::Duration::minutes(LEASE_TTL_MINUTES);
        self.lease.lock().await.renew(&self.wh, clock::now(), ttl).await
    }

    /// Move the staged files of each partition into the shadow, then delete what older
    /// attempts left there. Done by backfill on the object store, not by a statement.
    async fn commit(&self, batch: &Batch, attempt: u32) -> Result<(), Error> {
        let spec = &self.plan.spec;
        let key = &spec.target.partition_key;
        let store = self.wh.store();
        let staging = self.dir.staging(batch.number);
        failpoint::hit(&format!("batch-{}-before-commit", batch.number));
        self.fence().await?;
        let staged: Vec<_> = store.list(Some(&staging)).try_collect().await.map_err(|e| store_err(&self.wh, e))?;
        for day in &batch.partitions {
            let folder = format!("{key}={day}");
            let target = format!("{}{folder}", spec.target.shadow.prefix());
            let ours = format!("b{:04}-a{attempt:03}-", batch.number);
            for (i, file) in staged.iter().filter(|m| m.location.parts().any(|p| p.as_ref() == folder)).enumerate() {
                let to = ObjectPath::from(format!("{target}/{ours}{i:03}.parquet"));
                store.rename(&file.location, &to).await.map_err(|e| store_err(&self.wh, e))?;
            }
            failpoint::hit(&format!("batch-{}-mid-commit", batch.number));
            let existing: Vec<_> = store
                .list(Some(&ObjectPath::from(target.as_str())))
                .try_collect()
                .await
                .map_err(|e| store_err(&self.wh, e))?;
            for old in existing.iter().filter(|m| !m.location.filename().is_some_and(|n| n.starts_with(&ours))) {
                match store.delete(&old.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(store_err(&self.wh, e)),
                }
            }
        }
        state::delete_prefix(&self.wh, &staging).await
    }

    /// Run one batch. Any error but a lost lease leaves a failed checkpoint with its
    /// text (the batch is redone on the next run) and stops the run; a failed gate is
    /// checkpointed as failed by the batch itself.
    pub(super) async fn run(&self, batch: &Batch, attempt: u32) -> Result<Checkpoint<C::Outcome>, Error> {
        self.wait_for_live_pipeline(batch).await?;
        self.progress.batch_started(batch);
        let started_at: DateTime<Utc> = Utc::now();
        match self.attempt(batch, attempt, started_at).await {
            Ok(checkpoint) => match &checkpoint.reason {
                None => Ok(checkpoint),
                Some(reason) => Err(Error::Gate(format!(
                    "batch {} failed its gate: {reason}; the shadow and checkpoints are kept for inspection\n  \
                     fix: correct the spec and rerun to go on",
                    batch.number
                ))),
            },
            // A run that lost its lease writes nothing more, not even a failed checkpoint.
            Err(e @ Error::Conflict(_)) => Err(e),
            Err(e) => {
                let failed = Checked { failures: vec![e.to_string()], ..Default::default() };
                let checkpoint = self.checkpoint(batch, attempt, started_at, Written::default(), failed);
                self.save(&checkpoint).await?;
                Err(e)
            }
        }
    }

    fn checkpoint(
        &self,
        batch: &Batch,
        attempt: u32,
        started_at: DateTime<Utc>,
        written: Written,
        checked: Checked<C::Outcome>,
    ) -> Checkpoint<C::Outcome> {
        let Written { rows_written, bytes_scanned, timings, sources } = written;
        let reason = (!checked.failures.is_empty()).then(|| checked.failures.join("; "));
        Checkpoint {
            batch: batch.number,
            state: if reason.is_none() { BatchState::Done } else { BatchState::Failed },
            attempt,
            fingerprint: self.rendered.fingerprint.clone(),
            started_at,
            finished_at: Utc::now(),
            partitions: batch.partitions.clone(),
            rows_written,
            bytes_scanned,
            timings,
            outcome: checked.outcome,
            base_files: checked.base_files,
            sources,
            reason,
        }
    }

    async fn attempt(
        &self,
        batch: &Batch,
        attempt: u32,
        started_at: DateTime<Utc>,
    ) -> Result<Checkpoint<C::Outcome>, Error> {
        let spec = &self.plan.spec;
        let started = Instant::now();
        let statements = self
            .rendered
            .batch(batch.number)
            .ok_or_else(|| Error::Usage(format!("batch {} is not in the plan", batch.number)))?;
        state::delete_prefix(&self.wh, &self.dir.staging(batch.number)).await?;
        // Listed before the write reads them: a change after this is caught on resume.
        let sources = super::drift::batch_sources(&self.plan, &self.wh, &batch.partitions).await?;
        // The write keeps only rows of the batch's partitions, so a NULL key would vanish
        // silently; refuse it instead, before anything of this batch is written.
        let transform = TransformTemplate::compile(spec)?.render(spec, &batch.partitions)?;
        output::null_partition_keys(self.engine.as_ref(), &self.plan, &transform).await?;
        let phase = Instant::now();
        let written = self.engine.run(&statements.write).await?;
        let write_ms = phase.elapsed().as_secs_f64() * 1000.0;
        let rows_written = written
            .batches
            .first()
            .and_then(|b| {
                let column = b.column(0).as_any();
                column
                    .downcast_ref::<UInt64Array>()
                    .map(|a| a.value(0))
                    .or_else(|| column.downcast_ref::<Int64Array>().map(|a| a.value(0) as u64))
            })
            .unwrap_or(0);
        let phase = Instant::now();
        let shadow = self.shadow_lock.lock().await;
        self.commit(batch, attempt).await?;
        self.engine.refresh(&spec.target.shadow);
        drop(shadow);
        let commit_ms = phase.elapsed().as_secs_f64() * 1000.0;
        let phase = Instant::now();
        let checked = self.checks.check_batch(self.engine.as_ref(), batch, statements).await?;
        let reconcile_ms = phase.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(
            batch = batch.number,
            write_ms,
            commit_ms,
            reconcile_ms,
            "batch written, committed and checked"
        );
        let timings = Timings { write_ms, commit_ms, reconcile_ms };
        let written = Written { rows_written, bytes_scanned: written.bytes_scanned, timings, sources };
        let checkpoint = self.checkpoint(batch, attempt, started_at, written, checked);
        failpoint::hit(&format!("batch-{}-before-checkpoint", batch.number));
        self.save(&checkpoint).await?;
        failpoint::hit(&format!("batch-{}-after-checkpoint", batch.number));
        self.renew().await?;
        self.progress.batch_finished(&Finished::of(&checkpoint), started.elapsed());
        if checkpoint.reason.is_some() {
            return Ok(checkpoint);
        }
        if !spec.execution.pause_between_batches.is_zero() {
            tokio::time::sleep(spec.execution.pause_between_batches).await;
        }
        Ok(checkpoint)
    }
}
