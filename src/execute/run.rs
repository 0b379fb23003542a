//! `run --execute`: write the shadow batch by batch. Each batch is written into its
//! staging prefix, committed into the shadow's partition folders (replacing whatever an
//! earlier attempt left), reconciled (see [`crate::reconcile`]), gated and checkpointed
//! (one batch: [`super::batch`]). A rerun skips done batches and redoes the rest; a
//! changed plan is refused unless restarted.
//!
//! Crash safety (DESIGN.md, "nothing is lost"): only the shadow and `_backfills/<id>/`
//! are written. A commit moves a batch's new files in, then deletes older files of the
//! same partitions; a crash between the two leaves extra files in a partition whose
//! batch has no `done` checkpoint, and the rerun's commit removes them.

use std::collections::BTreeSet;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;

use super::batch::{BatchRunner, LEASE_TTL_MINUTES};
use super::checks::Checks;
use super::engine::{joined, DataFusionEngine, Engine};
use super::output;
use super::progress::Progress;
use super::session::{self, SessionOptions};
use crate::catalog;
use crate::clock;
use crate::plan::{Batch, Plan};
use crate::render::RenderedPlan;
use crate::spec::EngineKind;
use crate::sql::view_definition;
use crate::state::{self, BackfillDir, BatchState, HeldLease, PlanRecord};
use crate::warehouse::Warehouse;
use crate::Error;

/// Options of one `run --execute`.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    /// Engine sizing.
    pub session: SessionOptions,
    /// Take over the run lease whoever holds it.
    pub force_unlock: bool,
    /// Discard the shadow and the checkpoints and begin again.
    pub restart: bool,
    /// The engine that runs the statements (the caller resolves `--engine` against
    /// `execution.engine`).
    pub engine: EngineKind,
    /// With [`EngineKind::Ballista`], the scheduler (`df://HOST:PORT`); none starts a
    /// standalone cluster in this process.
    pub scheduler: Option<String>,
}

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

/// Run `plan` for real, checking each batch with `checks`. See the module documentation.
///
/// Errors: [`Error::Conflict`] (exit 4) when another run holds the lease;
/// [`Error::Usage`] (exit 2) when the plan changed since the run began;
/// [`Error::Spec`] (exit 2) when the transform's output does not fit the base;
/// [`Error::Gate`] (exit 1) when a batch fails a gate, the whole range fails an
/// `expected_delta` gate, or the byte budget is exceeded; [`Error::Timeout`] (exit 3)
/// when a statement runs past `query_timeout`; [`Error::MissingColumn`] (exit 2, before
/// any batch) when a reconciliation statement does not return a column backfill reads.
pub async fn execute<C: Checks>(
    plan: &Plan,
    rendered: &RenderedPlan,
    wh: &Warehouse,
    opts: &ExecuteOptions,
    progress: Arc<dyn Progress>,
    checks: Arc<C>,
) -> Result<RunSummary, Error> {
    let spec = &plan.spec;
    let estimate = plan.estimate();
    if let Some(limit) = spec.execution.max_bytes_scanned {
        if estimate.bytes > limit {
            return Err(Error::Gate(format!(
                "refused: the plan is estimated to read {} bytes, above execution.max_bytes_scanned ({limit} bytes)\n  \
                 fix: narrow the range or raise the budget",
                estimate.bytes
            )));
        }
    }
    if catalog::latest(wh).await?.is_published(&spec.target.view.to_string(), &spec.backfill_id) {
        return Err(Error::Gate(format!(
            "refused: {} is published in {}, and a published shadow is immutable\n  \
             fix: backfill rollback SPEC first, then run again",
            spec.backfill_id, spec.target.view
        )));
    }
    let dir = BackfillDir::new(&spec.backfill_id);
    let ttl = chrono::Duration::minutes(LEASE_TTL_MINUTES);
    let lease = state::acquire(wh, &dir, &spec.owner, clock::now(), ttl, opts.force_unlock).await?;
    let result = execute_leased(plan, rendered, wh, opts, progress, checks, &dir, lease.clone()).await;
    let released = lease.release(wh).await;
    let summary = result?;
    released?;
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn execute_leased<C: Checks>(
    plan: &Plan,
    rendered: &RenderedPlan,
    wh: &Warehouse,
    opts: &ExecuteOptions,
    progress: Arc<dyn Progress>,
    checks: Arc<C>,
    dir: &BackfillDir,
    lease: HeldLease,
) -> Result<RunSummary, Error> {
    let spec = &plan.spec;
    let normalized =
        serde_json::to_value(spec).map_err(|e| Error::Usage(format!("the spec does not serialize: {e}")))?;
    match state::read_json::<PlanRecord>(wh, &dir.plan()).await? {
        Some(prev) if prev.fingerprint == rendered.fingerprint && !opts.restart => {}
        Some(prev) if !opts.restart => {
            let mut changed = Vec::new();
            diff_paths("", &prev.spec, &normalized, &mut changed);
            let what = if changed.is_empty() {
                "the rendered statements (templates, the base table's columns or the catalog view) changed".to_string()
            } else {
                format!("changed fields: {}", changed.join(", "))
            };
            return Err(Error::Usage(format!(
                "the plan changed since this backfill's run began (fingerprint {} → {}); {what}\n  \
                 fix: restore the spec, \
                 or rerun with --restart to discard the shadow and the checkpoints and begin again",
                state::short_fingerprint(&prev.fingerprint),
                state::short_fingerprint(&rendered.fingerprint)
            )));
        }
        prev => {
            lease.check(wh).await?;
            if prev.is_some() || opts.restart {
                tracing::warn!(
                    "--restart: discarding the shadow's partitions and the checkpoints; every batch runs again"
                );
                state::delete_prefix(wh, &ObjectPath::from(spec.target.shadow.prefix().trim_end_matches('/'))).await?;
                for sub in ["batches", "staging", "sql", "range.json"] {
                    state::delete_prefix(wh, &ObjectPath::from(format!("{}/{sub}", dir.root()))).await?;
                }
            }
            let record = PlanRecord {
                fingerprint: rendered.fingerprint.clone(),
                spec: normalized,
                batches: plan.batches.len() as u32,
                started_at: lease.lease().acquired_at,
            };
            state::write_json(wh, &dir.plan(), &record).await?;
        }
    }

    let engine = prepare(plan, rendered, wh, dir, opts, &lease).await?;
    let earlier = state::checkpoints::<C::Outcome>(wh, dir).await?;
    let done_before: Vec<_> =
        earlier.iter().filter(|c| c.state == BatchState::Done && c.fingerprint == rendered.fingerprint).collect();
    super::drift::check_done_batches(plan, wh, &done_before).await?;
    let done: BTreeSet<u32> = done_before.iter().map(|c| c.batch).collect();
    let attempts = |b: u32| earlier.iter().find(|c| c.batch == b).map_or(0, |c| c.attempt);
    let pending: Vec<Batch> = plan.batches.iter().filter(|b| !done.contains(&b.number)).cloned().collect();
    let mut summary = RunSummary { skipped: done.len() as u32, ..Default::default() };
    if let Some(first) = pending.first().and_then(|b| rendered.batch(b.number)) {
        checks.before_batches(engine.as_ref(), first).await?;
        // The whole-range figures are recomputed after these batches; until then there are none.
        state::delete_prefix(wh, &dir.range()).await?;
    }
    let runner = Arc::new(BatchRunner {
        plan: Arc::new(plan.clone()),
        rendered: Arc::new(rendered.clone()),
        wh: wh.clone(),
        engine: Arc::clone(&engine),
        checks: Arc::clone(&checks),
        dir: dir.clone(),
        lease: tokio::sync::Mutex::new(lease),
        progress,
        shadow_lock: tokio::sync::Mutex::new(()),
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
        let Some(finished) = tasks.join_next().await else { break Ok(()) };
        let checkpoint = match joined(finished) {
            Ok(checkpoint) => checkpoint,
            Err(e) => break Err(e),
        };
        summary.done += 1;
        summary.rows_written += checkpoint.rows_written;
        summary.bytes_scanned += checkpoint.bytes_scanned;
        summary.write_ms += checkpoint.timings.write_ms;
        summary.reconcile_ms += checkpoint.timings.reconcile_ms;
        if let Some(limit) = spec.execution.max_bytes_scanned {
            if summary.bytes_scanned > limit {
                break Err(Error::Gate(format!(
                    "stopped after batch {}: this run has read {} bytes, \
                     above execution.max_bytes_scanned ({limit} bytes); done batches are kept\n  \
                     fix: raise the budget and rerun to go on",
                    checkpoint.batch, summary.bytes_scanned
                )));
            }
        }
    };
    if outcome.is_err() {
        tasks.shutdown().await;
    }
    outcome?;
    // Every batch is done: the checks of the whole range (DESIGN.md, numbers).
    runner.lease.lock().await.check(wh).await?;
    engine.refresh(&plan.spec.target.shadow);
    checks.after_batches(engine.as_ref()).await?;
    Ok(summary)
}

/// Open the engine over the catalog, define the consumer view if the catalog has none
/// (`prepare_view`, then its own catalog commit), check the transform's output against
/// the base, and declare the shadow (`create_shadow`).
///
/// Errors: [`catalog::CatalogError::Conflict`] (exit 4); [`Error::Spec`] (exit 2) when the
/// transform's output does not fit the base; engine and store errors.
async fn prepare(
    plan: &Plan,
    rendered: &RenderedPlan,
    wh: &Warehouse,
    dir: &BackfillDir,
    opts: &ExecuteOptions,
    lease: &HeldLease,
) -> Result<Arc<dyn Engine>, Error> {
    let spec = &plan.spec;
    let current = catalog::latest(wh).await?;
    let ctx = session::open(wh, &current, &opts.session).await?;
    for schema in [&spec.target.view.schema, &spec.target.shadow.schema] {
        session::ensure_schema(&ctx, schema);
    }
    let limit = spec.execution.query_timeout;
    let engine: Arc<dyn Engine> = match opts.engine {
        EngineKind::DataFusion => Arc::new(DataFusionEngine::new(ctx, wh, Some(dir.clone()), limit)),
        EngineKind::Ballista => {
            let cluster = super::ballista::connect(&ctx, opts.scheduler.as_deref()).await?;
            let inner = DataFusionEngine::new(cluster, wh, Some(dir.clone()), limit);
            Arc::new(super::ballista::BallistaEngine::new(inner, ctx))
        }
    };
    engine.run(&rendered.prepare_view).await?;
    let view = view_definition(&rendered.prepare_view.sql).map_err(|message| Error::Corrupt {
        path: format!("the rendered statement {}", rendered.prepare_view.step),
        message: format!("{message}\n  fix: the template must render one CREATE VIEW … AS <query>"),
    })?;
    lease.check(wh).await?;
    catalog::create_view(wh, current, &spec.target.view.to_string(), &view.body).await?;
    output::check(engine.as_ref(), plan, &plan.batches[0].partitions).await?;
    engine.run(&rendered.create_shadow).await?;
    Ok(engine)
}

/// Dotted paths where two JSON values differ, e.g. `execution.partitions_per_batch`.
fn diff_paths(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                diff_paths(
                    &path,
                    x.get(k).unwrap_or(&serde_json::Value::Null),
                    y.get(k).unwrap_or(&serde_json::Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push(prefix.to_string()),
        _ => {}
    }
}
