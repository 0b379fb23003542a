//! `run --execute`: write the shadow batch by batch. Each batch is written into its
//! staging prefix, committed into the shadow's partition folders (replacing whatever an
//! earlier attempt left), reconciled (see [`crate::reconcile`]), gated and checkpointed. A rerun skips done
//! batches and redoes the rest; a changed plan is refused unless restarted.
//!
//! Crash safety (DESIGN.md, "nothing is lost"): only the shadow and `_backfills/<id>/`
//! are written. A commit moves a batch's new files in, then deletes older files of the
//! same partitions; a crash between the two leaves extra files in a partition whose
//! batch has no `done` checkpoint, and the rerun's commit removes them.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use datafusion::arrow::array::{Int64Array, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::common::TableReference;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::session::{self, SessionOptions};
use super::state::{self, BackfillDir, BaseFile, BatchState, Checkpoint, Lease, PlanRecord};
use super::output;
use crate::catalog;
use crate::plan::{Batch, Plan};
use crate::render::{RenderedPlan, Statement, Step};
use crate::reconcile::{self, gates, Gate, Reconciliation, Totals};
use crate::spec::TableName;
use crate::warehouse::Warehouse;
use crate::Error;
use crate::error::{engine, store_err};

/// How long a lease lasts before another run may take it over; renewed after each batch.
pub const LEASE_TTL_MINUTES: i64 = 60;

/// Partitions read at once when a batch's two sides are loaded for reconciliation.
const READ_CONCURRENCY: usize = 8;

/// Options of one `run --execute`.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    /// Engine sizing.
    pub session: SessionOptions,
    /// Take over the run lease whoever holds it.
    pub force_unlock: bool,
    /// Discard the shadow and the checkpoints and begin again.
    pub restart: bool,
}

/// What a run reports as it goes.
pub trait Progress: Send + Sync {
    /// A batch is about to run.
    fn batch_started(&self, _batch: &Batch) {}
    /// A batch finished (done or failed).
    fn batch_finished(&self, _checkpoint: &Checkpoint, _elapsed: Duration) {}
    /// The run waits, and why.
    fn waiting(&self, _why: &str) {}
}

/// Progress that reports nothing.
pub struct Silent;
impl Progress for Silent {}

/// The outcome of a run that did not fail.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Batches run now.
    pub done: u32,
    /// Batches already done by an earlier run.
    pub skipped: u32,
    /// Rows committed by this run.
    pub rows_written: u64,
    /// Bytes read by this run's writes.
    pub bytes_scanned: u64,
    /// Milliseconds spent in this run's writes, summed over batches.
    pub write_ms: f64,
    /// Milliseconds spent reconciling (reading both sides, every reconciliation
    /// statement), summed over batches.
    pub reconcile_ms: f64,
}



/// Run `plan` for real. See the module documentation.
///
/// Errors: [`Error::Conflict`] (exit 4) when another run holds the lease;
/// [`Error::Usage`] (exit 2) when the plan changed since the run began;
/// [`Error::Spec`] (exit 2) when the transform's output does not fit the base;
/// [`Error::Gate`] (exit 1) when a batch fails its row-count gate or the byte budget
/// is exceeded; [`Error::Timeout`] (exit 3) when a statement runs past `query_timeout`.
pub async fn execute(plan: &Plan, rendered: &RenderedPlan, wh: &Warehouse, opts: &ExecuteOptions, progress: Arc<dyn Progress>) -> Result<RunSummary, Error> {
    let spec = &plan.spec;
    let estimate = plan.estimate();
    if let Some(limit) = spec.execution.max_bytes_scanned {
        if estimate.bytes > limit {
            return Err(Error::Gate(format!(
                "refused: the plan is estimated to read {} bytes, above execution.max_bytes_scanned ({limit} bytes)\n  fix: narrow the range or raise the budget",
                estimate.bytes
            )));
        }
    }
    if crate::publish::is_published(&catalog::latest(wh).await?, &spec.target.view.to_string(), &spec.backfill_id) {
        return Err(Error::Gate(format!(
            "refused: {} is published in {}, and a published shadow is immutable\n  fix: backfill rollback SPEC first, then run again",
            spec.backfill_id, spec.target.view
        )));
    }
    let dir = BackfillDir::new(&spec.backfill_id);
    let lease = Lease::mine(&spec.owner, Utc::now(), chrono::Duration::minutes(LEASE_TTL_MINUTES));
    state::acquire(wh, &dir, &lease, opts.force_unlock).await?;
    let result = execute_leased(plan, rendered, wh, opts, progress, &dir, &lease).await;
    let released = state::release(wh, &dir, &lease).await;
    let summary = result?;
    released?;
    Ok(summary)
}

async fn execute_leased(plan: &Plan, rendered: &RenderedPlan, wh: &Warehouse, opts: &ExecuteOptions, progress: Arc<dyn Progress>, dir: &BackfillDir, lease: &Lease) -> Result<RunSummary, Error> {
    let spec = &plan.spec;
    let normalized = serde_json::to_value(spec).expect("serializes");
    match state::read_json::<PlanRecord>(wh, &dir.plan()).await? {
        Some(prev) if prev.fingerprint == rendered.fingerprint => {}
        Some(prev) if !opts.restart => {
            let mut changed = Vec::new();
            diff_paths("", &prev.spec, &normalized, &mut changed);
            let what = if changed.is_empty() { "the rendered statements (templates, the base table's columns or the catalog view) changed".to_string() } else { format!("changed fields: {}", changed.join(", ")) };
            return Err(Error::Usage(format!(
                "the plan changed since this backfill's run began (fingerprint {} → {}); {what}\n  fix: restore the spec, or rerun with --restart to discard the shadow and the checkpoints and begin again",
                &prev.fingerprint[..12], &rendered.fingerprint[..12]
            )));
        }
        prev => {
            if prev.is_some() {
                tracing::warn!("--restart: discarding the shadow and the checkpoints");
                state::delete_prefix(wh, &ObjectPath::from(spec.target.shadow.prefix().trim_end_matches('/'))).await?;
                for sub in ["batches", "staging", "sql"] {
                    state::delete_prefix(wh, &ObjectPath::from(format!("{}/{sub}", dir.root()))).await?;
                }
            }
            let record = PlanRecord { fingerprint: rendered.fingerprint.clone(), spec: normalized, batches: plan.batches.len() as u32, started_at: lease.acquired_at };
            state::write_json(wh, &dir.plan(), &record).await?;
        }
    }

    let catalog = crate::publish::prepare_view(plan, wh).await?;
    save_sql(wh, dir, statement(rendered, Step::PrepareView, None)).await?;
    let ctx = session::open(wh, &catalog, &opts.session).await?;
    output::check(&ctx, plan, &plan.batches[0].partitions).await?;
    let create = statement(rendered, Step::CreateShadow, None);
    save_sql(wh, dir, create).await?;
    session::ensure_schema(&ctx, &spec.target.shadow.schema);
    ctx.sql(&create.sql).await.map_err(engine)?.collect().await.map_err(engine)?;

    let earlier = state::checkpoints(wh, dir).await?;
    let done: BTreeSet<u32> = earlier.iter().filter(|c| c.state == BatchState::Done && c.fingerprint == rendered.fingerprint).map(|c| c.batch).collect();
    let attempts = |b: u32| earlier.iter().find(|c| c.batch == b).map_or(0, |c| c.attempt);
    let pending: Vec<Batch> = plan.batches.iter().filter(|b| !done.contains(&b.number)).cloned().collect();
    let mut summary = RunSummary { skipped: done.len() as u32, ..Default::default() };

    let mut totals = Totals::default();
    for c in earlier.iter().filter(|c| done.contains(&c.batch)) {
        totals.add(&c.reconciliation);
    }
    let registered = |t: &TableName| {
        let r = TableReference::partial(t.schema.as_str(), t.table.as_str());
        let ctx = &ctx;
        async move { Ok::<_, Error>(ctx.table(r).await.map_err(engine)?.schema().inner().clone()) }
    };
    let schema_differences = reconcile::schema_differences(&registered(&spec.target.table).await?, &registered(&spec.target.shadow).await?);
    let runner = Arc::new(BatchRunner {
        plan: Arc::new(plan.clone()),
        rendered: Arc::new(rendered.clone()),
        wh: wh.clone(),
        ctx,
        dir: dir.clone(),
        lease: lease.clone(),
        progress,
        shadow_lock: tokio::sync::Mutex::new(()),
        totals: std::sync::Mutex::new(totals),
        schema_differences,
    });
    // Each batch is its own task, so that batches plan and run on separate cores; at most
    // max_concurrency are in flight. A failure stops the others (as a crash would, and
    // with the same safety) before the error is returned.
    let mut pending = pending.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let outcome = loop {
        while tasks.len() < spec.execution.max_concurrency as usize {
            let Some(batch) = pending.next() else { break };
            let (runner, attempt) = (Arc::clone(&runner), attempts(batch.number) + 1);
            tasks.spawn(async move { runner.run(&batch, attempt).await });
        }
        let Some(joined) = tasks.join_next().await else { break Ok(()) };
        let checkpoint = match joined {
            Ok(Ok(checkpoint)) => checkpoint,
            Ok(Err(e)) => break Err(e),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => break Err(Error::Engine(Box::new(datafusion::error::DataFusionError::External(Box::new(e))))),
        };
        summary.done += 1;
        summary.rows_written += checkpoint.rows_written;
        summary.bytes_scanned += checkpoint.bytes_scanned;
        summary.write_ms += checkpoint.timings.write_ms;
        summary.reconcile_ms += checkpoint.timings.reconcile_ms;
        if let Some(limit) = spec.execution.max_bytes_scanned {
            if summary.bytes_scanned > limit {
                break Err(Error::Gate(format!(
                    "stopped after batch {}: this run has read {} bytes, above execution.max_bytes_scanned ({limit} bytes); done batches are kept\n  fix: raise the budget and rerun to go on",
                    checkpoint.batch, summary.bytes_scanned
                )));
            }
        }
    };
    if outcome.is_err() {
        tasks.shutdown().await;
    }
    outcome?;
    // Every batch is done: the metric gates once more, over the whole range.
    let totals = runner.totals.lock().expect("totals lock").clone();
    let failed: Vec<String> = gates::metric_gates(spec, &totals, "whole range").into_iter().filter(|g| !g.passed).map(|g| format!("{}: {}", g.name, g.detail)).collect();
    if !failed.is_empty() {
        return Err(Error::Gate(format!("the whole range failed its gates: {}\n  fix: correct the transform or the expected range, then rerun with --restart", failed.join("; "))));
    }
    Ok(summary)
}

/// Dotted paths where two JSON values differ, e.g. `execution.partitions_per_batch`.
fn diff_paths(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                diff_paths(&path, x.get(k).unwrap_or(&serde_json::Value::Null), y.get(k).unwrap_or(&serde_json::Value::Null), out);
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}

/// The rendered statement of `step` (for `batch`).
fn statement(rendered: &RenderedPlan, step: Step, batch: Option<u32>) -> &Statement {
    rendered.statements.iter().find(|s| s.step == step && s.batch == batch).expect("the plan renders every step it runs")
}

/// Save a statement under `sql/` exactly as executed.
async fn save_sql(wh: &Warehouse, dir: &BackfillDir, s: &Statement) -> Result<(), Error> {
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
async fn run_statement(wh: Warehouse, dir: BackfillDir, ctx: SessionContext, s: Statement, limit: Duration) -> Result<(Vec<RecordBatch>, u64), Error> {
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

struct BatchRunner {
    plan: Arc<Plan>,
    rendered: Arc<RenderedPlan>,
    wh: Warehouse,
    ctx: SessionContext,
    dir: BackfillDir,
    lease: Lease,
    progress: Arc<dyn Progress>,
    /// Held while a batch commits and drops the shadow's cached listing. Batches read
    /// back only their own partition folders, listed directly, so no read can see a
    /// stale listing of files another batch has just committed.
    shadow_lock: tokio::sync::Mutex<()>,
    /// Metric totals over every done batch, this run's included; the cumulative
    /// `expected_delta` gates check them.
    totals: std::sync::Mutex<Totals>,
    /// Base vs shadow columns as registered: the same for every batch.
    schema_differences: Vec<String>,
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
            let mut i = 0;
            for file in staged.iter().filter(|m| m.location.parts().any(|p| p.as_ref() == folder)) {
                let to = ObjectPath::from(format!("{target}/{ours}{i:03}.parquet"));
                store.rename(&file.location, &to).await.map_err(|e| store_err(&self.wh, e))?;
                i += 1;
            }
            let existing: Vec<_> = store.list(Some(&ObjectPath::from(target.as_str()))).try_collect().await.map_err(|e| store_err(&self.wh, e))?;
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
        let schema = self.ctx.table(TableReference::partial(table.schema.as_str(), table.table.as_str())).await.map_err(engine)?.schema().inner().clone();
        let parts: Vec<_> = futures::stream::iter(batch.partitions.clone())
            .map(|day| {
                let (wh, table, key, schema) = (self.wh.clone(), table.clone(), key.clone(), Arc::clone(&schema));
                async move { crate::warehouse::read_partition(&wh, &table, &key, &day.to_string(), &schema).await }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut loaded = Loaded { schema: schema.clone(), rows: Vec::new(), files: Vec::new() };
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
        let mut r = reconcile::reconcile(spec, |step| find(step).map(|s| s.sql.as_str()), |step, _sql| {
            // Each statement is its own task, so that a batch's statements plan on
            // separate cores.
            let s = find(step).expect("found above").clone();
            let task = tokio::spawn(run_statement(self.wh.clone(), self.dir.clone(), ctx.clone(), s, spec.execution.query_timeout));
            // When one statement fails the others are dropped: stop their tasks too.
            let abort = task.abort_handle();
            let guard = scopeguard(move || abort.abort());
            async move {
                let _guard = guard;
                match task.await {
                    Ok(result) => Ok(result?.0),
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(e) => Err(Error::Engine(Box::new(datafusion::error::DataFusionError::External(Box::new(e))))),
                }
            }
        })
        .await?;
        r.schema_differences = self.schema_differences.clone();
        Ok(r)
    }

    /// Run one batch. A statement that outlives `query_timeout` leaves a failed checkpoint
    /// saying so (the batch is redone on the next run) and stops the run.
    async fn run(&self, batch: &Batch, attempt: u32) -> Result<Checkpoint, Error> {
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
        let transform = crate::render::transform::TransformTemplate::compile(spec)?.render(spec, &batch.partitions)?;
        output::null_partition_keys(&self.ctx, &self.plan, &transform).await?;
        tracing::debug!(batch = batch.number, ms = phase.elapsed().as_millis() as u64, "checked partition keys");
        let phase = Instant::now();
        let (written, bytes) = self.timed(statement(&self.rendered, Step::WriteBatch, n)).await?;
        let write_ms = phase.elapsed().as_secs_f64() * 1000.0;
        tracing::debug!(batch = batch.number, ms = write_ms as u64, "wrote staging");
        let rows_written = written.first().and_then(|b| b.column(0).as_any().downcast_ref::<UInt64Array>().map(|a| a.value(0)).or_else(|| b.column(0).as_any().downcast_ref::<Int64Array>().map(|a| a.value(0) as u64))).unwrap_or(0);
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
        let gates = {
            let mut totals = self.totals.lock().expect("totals lock");
            totals.add(&reconciliation);
            gates::check_batch(spec, &reconciliation, &totals, "cumulative")
        };
        let failed: Vec<&Gate> = gates.iter().filter(|g| !g.passed).collect();
        let reason = (!failed.is_empty()).then(|| failed.iter().map(|g| format!("{}: {}", g.name, g.detail)).collect::<Vec<_>>().join("; "));
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
        state::write_json(&self.wh, &self.dir.lock(), &Lease { expires_at: Utc::now() + chrono::Duration::minutes(LEASE_TTL_MINUTES), ..self.lease.clone() }).await?;
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
