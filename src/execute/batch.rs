//! One batch of `run --execute`, from start to checkpoint: wait for the live pipeline,
//! check partition keys, write into the staging prefix, commit into the shadow, read
//! both sides back, reconcile and gate (see [`crate::reconcile`]), checkpoint. Every
//! statement is saved under `_backfills/<id>/sql/` before it runs, under
//! `query_timeout`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Int64Array, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::output;
use super::run::{Progress, LEASE_TTL_MINUTES};
use super::session;
use super::state::{self, BackfillDir, BaseFile, BatchState, Checkpoint, Lease};
use crate::error::{engine, store_err};
use crate::plan::{Batch, Plan};
use crate::reconcile::{self, gates, Gate, Reconciliation};
use crate::render::{RenderedPlan, Statement, Step};
use crate::spec::TableName;
use crate::warehouse::Warehouse;
use crate::Error;

/// Partitions read at once when a batch's two sides are loaded for reconciliation.
const READ_CONCURRENCY: usize = 8;

/// The rendered statement of `step` (for `batch`).
pub(super) fn statement(rendered: &RenderedPlan, step: Step, batch: Option<u32>) -> &Statement {
    rendered.statements.iter().find(|s| s.step == step && s.batch == batch).expect("the plan renders every step it runs")
}

/// Save a statement under `sql/` exactly as executed.
pub(super) async fn save_sql(wh: &Warehouse, dir: &BackfillDir, s: &Statement) -> Result<(), Error> {
    let text = format!("-- {}{}\n{};\n", s.step, s.batch.map(|b| format!(" batch {b}")).unwrap_or_default(), s.sql);
    wh.store().put(&dir.sql(s.index, s.step.name()), PutPayload::from(text.into_bytes())).await.map_err(|e| store_err(wh, e))?;
    Ok(())
}

/// Sum of the `bytes_scanned` metric over an executed plan.
fn bytes_scanned(plan: &Arc<dyn ExecutionPlan>) -> u64 {
    let own = plan.metrics().and_then(|m| m.sum_by_name("bytes_scanned")).map_or(0, |v| v.as_usize() as u64);
    own + plan.children().iter().map(|c| bytes_scanned(c)).sum::<u64>()
}

/// Save `s` under `sql/`, then run it in `ctx` under `limit`; returns its batches and
/// the bytes it read. Owns its arguments so that it can run as a task of its own.
///
/// Errors: [`Error::Timeout`] (exit 3) past `limit`; engine and store errors.
pub(super) async fn run_statement(
    wh: Warehouse,
    dir: BackfillDir,
    ctx: SessionContext,
    s: Statement,
    limit: Duration,
) -> Result<(Vec<RecordBatch>, u64), Error> {
    save_sql(&wh, &dir, &s).await?;
    let t0 = Instant::now();
    let work = async {
        let df = ctx.sql(&s.sql).await.map_err(engine)?;
        let physical = df.create_physical_plan().await.map_err(engine)?;
        let planned = t0.elapsed().as_millis() as u64;
        let batches = collect(physical.clone(), ctx.task_ctx()).await.map_err(engine)?;
        tracing::debug!(step = %s.step, batch = s.batch.unwrap_or_default(), planned_ms = planned, ms = t0.elapsed().as_millis() as u64, "statement");
        Ok::<_, Error>((batches, bytes_scanned(&physical)))
    };
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout(format!(
            "{} of batch {} ran longer than execution.query_timeout ({}); the batch is not done and the run stopped\n  fix: raise query_timeout or make batches smaller, then rerun",
            s.step,
            s.batch.unwrap_or_default(),
            humantime::format_duration(limit)
        ))),
    }
}

/// What every batch of one run shares.
pub(super) struct BatchRunner {
    pub(super) plan: Arc<Plan>,
    pub(super) rendered: Arc<RenderedPlan>,
    pub(super) wh: Warehouse,
    pub(super) ctx: SessionContext,
    pub(super) dir: BackfillDir,
    pub(super) lease: Lease,
    pub(super) progress: Arc<dyn Progress>,
    /// Held while a batch commits and drops the shadow's cached listing. Batches read
    /// back only their own partition folders, listed directly, so no read can see a
    /// stale listing of files another batch has just committed.
    pub(super) shadow_lock: tokio::sync::Mutex<()>,
    /// Base vs shadow columns as registered: the same for every batch.
    pub(super) schema_differences: Vec<String>,
}

/// One side of a batch, read into memory.
struct Loaded {
    /// The rows' schema.
    schema: SchemaRef,
    /// The batch's rows of the table.
    rows: Vec<RecordBatch>,
    /// Every file of the batch's partition folders, by path.
    files: Vec<BaseFile>,
}

impl BatchRunner {
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
                        self.progress.waiting(&format!("live pipeline marker {marker} exists: waiting for the live pipeline to finish"));
                        told = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Run a statement under `query_timeout`; returns its batches and the bytes it read.
    async fn timed(&self, s: &Statement) -> Result<(Vec<RecordBatch>, u64), Error> {
        run_statement(self.wh.clone(), self.dir.clone(), self.ctx.clone(), s.clone(), self.plan.spec.execution.query_timeout).await
    }

    /// Move the staged files of each partition into the shadow, then delete what older
    /// attempts left there. Returns nothing; row counts are reconciled afterwards.
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
            let existing: Vec<_> =
                store.list(Some(&ObjectPath::from(target.as_str()))).try_collect().await.map_err(|e| store_err(&self.wh, e))?;
            for old in existing.iter().filter(|m| !m.location.filename().is_some_and(|n| n.starts_with(&ours))) {
                match store.delete(&old.location).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(store_err(&self.wh, e)),
                }
            }
        }
        state::delete_prefix(&self.wh, &staging).await
    }

    /// The batch's partitions of `table`, read once, straight from each partition
    /// folder's files (see [`crate::warehouse::read_partition`]): no query is planned and
    /// the table's cached listing is not used, so files another batch has just committed
    /// cannot be missed.
    async fn load(&self, table: &TableName, batch: &Batch) -> Result<Loaded, Error> {
        let key = &self.plan.spec.target.partition_key;
        let schema = self
            .ctx
            .table(TableReference::partial(table.schema.as_str(), table.table.as_str()))
            .await
            .map_err(engine)?
            .schema()
            .inner()
            .clone();
        let parts: Vec<_> = futures::stream::iter(batch.partitions.clone())
            .map(|day| {
                let (wh, table, key, schema) = (self.wh.clone(), table.clone(), key.clone(), Arc::clone(&schema));
                async move { crate::warehouse::read_partition(&wh, &table, &key, &day.to_string(), &schema).await }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut loaded = Loaded { schema, rows: Vec::new(), files: Vec::new() };
        for part in parts {
            loaded.files.extend(part.files.into_iter().map(|f| BaseFile { path: f.path, size: f.size }));
            loaded.rows.extend(part.rows);
        }
        loaded.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(loaded)
    }

    /// Run the batch's rendered reconciliation statements over in-memory copies of its
    /// partitions (see [`crate::reconcile`]), each saved and under `query_timeout`.
    async fn reconcile(&self, batch: &Batch, base: Loaded, shadow: Loaded) -> Result<Reconciliation, Error> {
        let spec = &self.plan.spec;
        let ctx = reconcile::batch_session(&spec.target.table, base.schema, base.rows, &spec.target.shadow, shadow.schema, shadow.rows)?;
        let n = Some(batch.number);
        let find = |step: Step| self.rendered.statements.iter().find(|s| s.step == step && s.batch == n);
        let mut r = reconcile::reconcile(
            spec,
            |step| find(step).map(|s| s.sql.as_str()),
            |step, _sql| {
                // Each statement is its own task, so that a batch's statements plan on
                // separate cores.
                let s = find(step).expect("found above").clone();
                let task = tokio::spawn(run_statement(self.wh.clone(), self.dir.clone(), ctx.clone(), s, spec.execution.query_timeout));
                // When one statement fails the others are dropped: stop their tasks too.
                let abort = task.abort_handle();
                let guard = scopeguard(move || abort.abort());
                async move {
                    let _guard = guard;
                    Ok(joined(task.await)?.0)
                }
            },
        )
        .await?;
        r.schema_differences = self.schema_differences.clone();
        Ok(r)
    }

    /// Run one batch. A statement that outlives `query_timeout` leaves a failed checkpoint
    /// saying so (the batch is redone on the next run) and stops the run.
    pub(super) async fn run(&self, batch: &Batch, attempt: u32) -> Result<Checkpoint, Error> {
        self.wait_for_live_pipeline().await?;
        self.progress.batch_started(batch);
        let started_at: DateTime<Utc> = Utc::now();
        match self.attempt(batch, attempt, started_at).await {
            Err(e @ Error::Timeout(_)) => {
                let checkpoint = Checkpoint {
                    batch: batch.number,
                    state: BatchState::Failed,
                    attempt,
                    fingerprint: self.rendered.fingerprint.clone(),
                    started_at,
                    finished_at: Utc::now(),
                    partitions: batch.partitions.clone(),
                    rows_written: 0,
                    bytes_scanned: 0,
                    timings: state::Timings::default(),
                    reconciliation: Reconciliation::default(),
                    gates: Vec::new(),
                    base_files: Vec::new(),
                    reason: Some(e.to_string().lines().next().unwrap_or_default().to_string()),
                };
                state::write_json(&self.wh, &self.dir.checkpoint(batch.number), &checkpoint).await?;
                Err(e)
            }
            other => other,
        }
    }

    async fn attempt(&self, batch: &Batch, attempt: u32, started_at: DateTime<Utc>) -> Result<Checkpoint, Error> {
        let spec = &self.plan.spec;
        let started = Instant::now();
        let n = Some(batch.number);
        state::delete_prefix(&self.wh, &self.dir.staging(batch.number)).await?;
        // The write keeps only rows of the batch's partitions, so a NULL key would vanish
        // silently; refuse it instead, before anything of this batch is written.
        let phase = Instant::now();
        let transform = crate::plan::transform::TransformTemplate::compile(spec)?.render(spec, &batch.partitions)?;
        output::null_partition_keys(&self.ctx, &self.plan, &transform).await?;
        tracing::debug!(batch = batch.number, ms = phase.elapsed().as_millis() as u64, "checked partition keys");
        let phase = Instant::now();
        let (written, bytes) = self.timed(statement(&self.rendered, Step::WriteBatch, n)).await?;
        let write_ms = phase.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(batch = batch.number, ms = write_ms as u64, "wrote staging");
        let rows_written = written
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .map(|a| a.value(0))
                    .or_else(|| b.column(0).as_any().downcast_ref::<Int64Array>().map(|a| a.value(0) as u64))
            })
            .unwrap_or(0);
        let phase = Instant::now();
        let base_rows = self.load(&spec.target.table, batch).await?;
        let base_files = base_rows.files.clone();
        let mut reconcile_ms = phase.elapsed().as_secs_f64() * 1000.0;
        save_sql(&self.wh, &self.dir, statement(&self.rendered, Step::CommitBatch, n)).await?;
        let phase = Instant::now();
        let shadow = self.shadow_lock.lock().await;
        self.commit(batch, attempt).await?;
        session::forget_listing(&self.ctx, &spec.target.shadow);
        drop(shadow);
        let commit_ms = phase.elapsed().as_secs_f64() * 1000.0;
        let phase = Instant::now();
        let shadow_rows = self.load(&spec.target.shadow, batch).await?;
        let reconciliation = self.reconcile(batch, base_rows, shadow_rows).await?;
        reconcile_ms += phase.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(batch = batch.number, commit_ms = commit_ms as u64, reconcile_ms = reconcile_ms as u64, "committed and reconciled");
        let gates = gates::check_batch(spec, &reconciliation, &format!("batch {}", batch.number));
        let failed: Vec<&Gate> = gates.iter().filter(|g| !g.passed()).collect();
        let reason =
            (!failed.is_empty()).then(|| failed.iter().map(|g| format!("{}: {}", g.name, g.detail)).collect::<Vec<_>>().join("; "));
        let checkpoint = Checkpoint {
            batch: batch.number,
            state: if reason.is_none() { BatchState::Done } else { BatchState::Failed },
            attempt,
            fingerprint: self.rendered.fingerprint.clone(),
            started_at,
            finished_at: Utc::now(),
            partitions: batch.partitions.clone(),
            rows_written,
            bytes_scanned: bytes,
            timings: state::Timings { write_ms, commit_ms, reconcile_ms },
            reconciliation,
            gates,
            base_files,
            reason: reason.clone(),
        };
        state::write_json(&self.wh, &self.dir.checkpoint(batch.number), &checkpoint).await?;
        state::write_json(
            &self.wh,
            &self.dir.lock(),
            &Lease { expires_at: Utc::now() + chrono::Duration::minutes(LEASE_TTL_MINUTES), ..self.lease.clone() },
        )
        .await?;
        self.progress.batch_finished(&checkpoint, started.elapsed());
        if let Some(reason) = reason {
            return Err(Error::Gate(format!("batch {} failed its gate: {reason}; the shadow and checkpoints are kept for inspection\n  fix: correct the spec and rerun to go on", batch.number)));
        }
        if !spec.execution.pause_between_batches.is_zero() {
            tokio::time::sleep(spec.execution.pause_between_batches).await;
        }
        Ok(checkpoint)
    }
}

/// The outcome of a finished task: its own result, a panic passed on, or a cancellation
/// as an engine error.
pub(super) fn joined<T>(outcome: Result<Result<T, Error>, tokio::task::JoinError>) -> Result<T, Error> {
    match outcome {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Engine(Box::new(datafusion::error::DataFusionError::External(Box::new(e))))),
    }
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
