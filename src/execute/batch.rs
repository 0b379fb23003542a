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
use crate::error::store_err;
use crate::plan::transform::TransformTemplate;
use crate::plan::{Batch, Plan};
use crate::render::RenderedPlan;
use crate::state::{self, BackfillDir, BatchState, Checkpoint, Lease, Timings};
use crate::warehouse::Warehouse;
use crate::Error;

/// How long a lease lasts before another run may take it over; renewed after each batch.
pub const LEASE_TTL_MINUTES: i64 = 60;

/// What every batch of one run shares.
pub(super) struct BatchRunner<C: Checks> {
    pub(super) plan: Arc<Plan>,
    pub(super) rendered: Arc<RenderedPlan>,
    pub(super) wh: Warehouse,
    pub(super) engine: Arc<dyn Engine>,
    pub(super) checks: Arc<C>,
    pub(super) dir: BackfillDir,
    pub(super) lease: Lease,
    pub(super) progress: Arc<dyn Progress>,
    /// Held while a batch commits and the engine forgets the shadow's cached listing.
    pub(super) shadow_lock: tokio::sync::Mutex<()>,
}

impl<C: Checks> BatchRunner<C> {
    async fn wait_for_live_pipeline(&self) -> Result<(), Error> {
        let Some(marker) = &self.plan.spec.execution.live_pipeline_marker else { return Ok(()) };
        let path = ObjectPath::from(marker.as_str());
        let mut told = false;
        loop {
            match self.wh.store().head(&path).await {
                Err(object_store::Error::NotFound { .. }) => return Ok(()),
                Err(e) => return Err(store_err(&self.wh, e)),
                Ok(_) => {
                    if !told {
                        self.progress.waiting(&format!(
                            "live pipeline marker {marker} exists: waiting for the live pipeline to finish"
                        ));
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Move the staged files of each partition into the shadow, then delete what older
    /// attempts left there. Done by backfill on the object store, not by a statement.
    async fn commit(&self, batch: &Batch, attempt: u32) -> Result<(), Error> {
        let spec = &self.plan.spec;
        let key = &spec.target.partition_key;
        let store = self.wh.store();
        let staging = self.dir.staging(batch.number);
        let staged: Vec<_> = store.list(Some(&staging)).try_collect().await.map_err(|e| store_err(&self.wh, e))?;
        for day in &batch.partitions {
            let folder = format!("{key}={day}");
            let target = format!("{}{folder}", spec.target.shadow.prefix());
            let ours = format!("b{:04}-a{attempt:03}-", batch.number);
            for (i, file) in staged.iter().filter(|m| m.location.parts().any(|p| p.as_ref() == folder)).enumerate() {
                let to = ObjectPath::from(format!("{target}/{ours}{i:03}.parquet"));
                store.rename(&file.location, &to).await.map_err(|e| store_err(&self.wh, e))?;
            }
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

    /// Run one batch. A statement that outlives `query_timeout` leaves a failed checkpoint
    /// saying so (the batch is redone on the next run) and stops the run.
    pub(super) async fn run(&self, batch: &Batch, attempt: u32) -> Result<Checkpoint<C::Outcome>, Error> {
        self.wait_for_live_pipeline().await?;
        self.progress.batch_started(batch);
        let started_at: DateTime<Utc> = Utc::now();
        match self.attempt(batch, attempt, started_at).await {
            Err(e @ Error::Timeout(_)) => {
                let failed = Checked {
                    failures: vec![e.to_string().lines().next().unwrap_or_default().to_string()],
                    ..Default::default()
                };
                let checkpoint = self.checkpoint(batch, attempt, started_at, (0, 0), Timings::default(), failed);
                state::write_json(&self.wh, &self.dir.checkpoint(batch.number), &checkpoint).await?;
                Err(e)
            }
            other => other,
        }
    }

    fn checkpoint(
        &self,
        batch: &Batch,
        attempt: u32,
        started_at: DateTime<Utc>,
        (rows_written, bytes_scanned): (u64, u64),
        timings: Timings,
        checked: Checked<C::Outcome>,
    ) -> Checkpoint<C::Outcome> {
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
        let checkpoint =
            self.checkpoint(batch, attempt, started_at, (rows_written, written.bytes_scanned), timings, checked);
        state::write_json(&self.wh, &self.dir.checkpoint(batch.number), &checkpoint).await?;
        let renewed =
            Lease { expires_at: Utc::now() + chrono::Duration::minutes(LEASE_TTL_MINUTES), ..self.lease.clone() };
        state::write_json(&self.wh, &self.dir.lock(), &renewed).await?;
        self.progress.batch_finished(&Finished::of(&checkpoint), started.elapsed());
        if let Some(reason) = &checkpoint.reason {
            return Err(Error::Gate(format!(
                "batch {} failed its gate: {reason}; the shadow and checkpoints are kept for inspection\n  \
                 fix: correct the spec and rerun to go on",
                batch.number
            )));
        }
        if !spec.execution.pause_between_batches.is_zero() {
            tokio::time::sleep(spec.execution.pause_between_batches).await;
        }
        Ok(checkpoint)
    }
}
