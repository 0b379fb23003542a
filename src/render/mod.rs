//! Stage 3: rendering. Turns a [`Plan`] into every SQL statement of the backfill, in
//! execution order, from the dialect's minijinja templates; parses each one back with
//! DataFusion's parser before anyone sees it; and computes the plan fingerprint.
//! Renders only; writes nothing.

mod context;
mod renderer;
mod scripts;
mod step;
pub mod templates;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

pub use context::order_column;
pub use renderer::{rollback_statement, StatementRenderer};
pub use scripts::{from_executed, render_scripts, Script, Scripts};
pub use step::{by_step, Statement, Step};
pub use templates::{Templates, DIALECT};

pub use crate::error::RenderError;
use crate::plan::Plan;

/// The URL under which the warehouse root is mounted in backfill's DataFusion session.
/// Rendered locations use it so a plan (and its fingerprint) does not depend on where
/// the warehouse lives on this machine.
pub const WAREHOUSE_URL: &str = "bf://warehouse/";

pub use crate::build_info::TOOL_VERSION;

/// The statements of one batch, in execution order: the write, then its reconciliation.
#[derive(Debug, Clone)]
pub struct BatchStatements {
    /// The batch number (1-based).
    pub number: u32,
    /// Writes the batch's corrected partitions into its staging prefix.
    pub write: Statement,
    /// Compares the batch's partitions of the shadow with the base.
    pub reconcile: ReconcileStatements,
}

/// The reconciliation statements of one batch (DESIGN.md, reconciliation), by level.
#[derive(Debug, Clone)]
pub struct ReconcileStatements {
    /// Structural and aggregate: rows, metrics and NULLs per partition, and the batch total.
    pub partitions: Statement,
    /// Structural: duplicate keys in the shadow (only when `validation.unique_keys`).
    pub unique_keys: Option<Statement>,
    /// Row-level: unchanged / changed / added / removed rows per partition.
    pub rows: Statement,
    /// Row-level: the largest changes.
    pub top_changes: Statement,
    /// Row-level: samples of unchanged, added and removed rows.
    pub samples: Statement,
}

impl ReconcileStatements {
    /// Group rendered statements by step. Every step but `reconcile_unique_keys` must be there.
    fn from_statements(statements: Vec<Statement>) -> Self {
        let take = |step: Step| statements.iter().find(|s| s.step == step).cloned();
        let missing = || unreachable!("the renderer renders every reconciliation step");
        Self {
            partitions: take(Step::ReconcilePartitions).unwrap_or_else(missing),
            unique_keys: take(Step::ReconcileUniqueKeys),
            rows: take(Step::ReconcileRows).unwrap_or_else(missing),
            top_changes: take(Step::ReconcileTopChanges).unwrap_or_else(missing),
            samples: take(Step::ReconcileSamples).unwrap_or_else(missing),
        }
    }

    /// Every statement, in execution order.
    pub fn iter(&self) -> impl Iterator<Item = &Statement> {
        [
            Some(&self.partitions),
            self.unique_keys.as_ref(),
            Some(&self.rows),
            Some(&self.top_changes),
            Some(&self.samples),
        ]
        .into_iter()
        .flatten()
    }
}

/// Every statement of a plan, parsed and fingerprinted, one field per kind. Everything
/// here is executed as rendered: `run --execute` runs `prepare_view`, `create_shadow`,
/// each batch's statements and `reconcile_range`; `publish` runs `view_swap`; `rollback`
/// runs `rollback`. What backfill does in Rust (moving a batch's files into the shadow,
/// the catalog commit, the ledger row) is not presented as SQL.
#[derive(Debug, Clone)]
pub struct RenderedPlan {
    /// The dialect rendered (`datafusion`).
    pub dialect: &'static str,
    /// Creates the consumer view over the base table if the catalog has none.
    pub prepare_view: Statement,
    /// Declares the shadow table.
    pub create_shadow: Statement,
    /// Each batch's statements, in batch order.
    pub batches: Vec<BatchStatements>,
    /// Each metric over the whole range, once every batch is done.
    pub reconcile_range: Statement,
    /// Publish: the consumer view reads the shadow for the source range.
    pub view_swap: Statement,
    /// Rollback: the consumer view's body before the publish.
    pub rollback: Statement,
    /// Hex sha256 over the tool version, the normalized spec and every statement.
    pub fingerprint: String,
}

impl RenderedPlan {
    /// Every statement in execution order (their `index` order).
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        let batches = self.batches.iter().flat_map(|b| std::iter::once(&b.write).chain(b.reconcile.iter()));
        [&self.prepare_view, &self.create_shadow].into_iter().chain(batches).chain([
            &self.reconcile_range,
            &self.view_swap,
            &self.rollback,
        ])
    }

    /// The statements of batch `number`.
    ///
    /// Errors: a batch the plan does not have (an internal error: batches come from the plan).
    pub fn batch(&self, number: u32) -> Option<&BatchStatements> {
        self.batches.iter().find(|b| b.number == number)
    }
}

impl Serialize for RenderedPlan {
    /// `{dialect, statements: [...], fingerprint}`, statements in execution order.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("RenderedPlan", 3)?;
        out.serialize_field("dialect", self.dialect)?;
        out.serialize_field("statements", &self.statements().collect::<Vec<_>>())?;
        out.serialize_field("fingerprint", &self.fingerprint)?;
        out.end()
    }
}

/// Render every statement of `plan` with `templates`, parse each back, and fingerprint.
///
/// Errors: [`RenderError::Template`] for a template that does not compile or render,
/// [`RenderError::Parse`] for a statement that does not parse (naming the template),
/// [`RenderError::Spec`] for a transform that does not render or parse (at its spec line).
pub fn render(plan: &Plan, templates: &Templates) -> Result<RenderedPlan, RenderError> {
    let r = StatementRenderer::new(plan, templates, &plan.spec.target.shadow)?;
    let steps = r.batch_steps();
    // Batches render independently: spread them over the cores, keep their order.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(plan.batches.len()).max(1);
    let chunk = plan.batches.len().div_ceil(workers).max(1);
    let rendered: Vec<Result<Vec<Vec<String>>, RenderError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .batches
            .chunks(chunk)
            .map(|batches| {
                let (r, steps) = (&r, &steps);
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(batches.len());
                    for batch in batches {
                        let ctx = r.batch_context(batch)?;
                        let sqls = steps
                            .iter()
                            .map(|step| r.render_with(*step, Some(batch), ctx.clone()))
                            .collect::<Result<_, _>>()?;
                        out.push(sqls);
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let mut index = 0;
    let mut statement = |step: Step, batch: Option<u32>, sql: String| {
        index += 1;
        Statement { index, step, batch, sql }
    };
    let prepare_view = statement(Step::PrepareView, None, r.render_step(Step::PrepareView, None)?);
    let create_shadow = statement(Step::CreateShadow, None, r.render_step(Step::CreateShadow, None)?);
    let mut batches = Vec::with_capacity(plan.batches.len());
    let mut numbers = plan.batches.iter().map(|b| b.number);
    for part in rendered {
        for sqls in part? {
            let number = numbers.next().unwrap_or_default();
            let mut all: Vec<Statement> =
                steps.iter().zip(sqls).map(|(step, sql)| statement(*step, Some(number), sql)).collect();
            let write = all.remove(0);
            batches.push(BatchStatements { number, write, reconcile: ReconcileStatements::from_statements(all) });
        }
    }
    let reconcile_range = statement(Step::ReconcileRange, None, r.render_step(Step::ReconcileRange, None)?);
    let view_swap = statement(Step::ViewSwap, None, r.render_step(Step::ViewSwap, None)?);
    // The same function as `rollback` renders with at rollback time, from the catalog.
    let rollback = rollback_statement(&plan.spec.target.view, templates, &plan.view.body, view_swap.index + 1)?;
    let mut plan_out = RenderedPlan {
        dialect: DIALECT,
        prepare_view,
        create_shadow,
        batches,
        reconcile_range,
        view_swap,
        rollback,
        fingerprint: String::new(),
    };
    plan_out.fingerprint = fingerprint(plan, plan_out.statements());
    Ok(plan_out)
}

/// `2024-12-01..2026-05-31 excluding 2025-12-25`, as recorded in the ledger.
pub fn scope_text(plan: &Plan) -> String {
    let r = &plan.spec.source_range;
    let mut text = format!("{}..{}", r.start, r.end);
    if !r.exclude.is_empty() {
        let days: Vec<String> = r.exclude.iter().map(ToString::to_string).collect();
        text.push_str(&format!(" excluding {}", days.join(", ")));
    }
    text
}

/// The `execution` fields the fingerprint leaves out: throttles, which change how fast
/// and how carefully a run goes but never what it writes or checks. A run can be slowed
/// down, given a longer `query_timeout` or a larger byte budget, and resumed.
pub const THROTTLES: [&str; 6] = [
    "max_concurrency",
    "pause_between_batches",
    "query_timeout",
    "max_bytes_scanned",
    "live_pipeline_marker",
    "live_pipeline_max_wait",
];

/// sha256 over the tool version, the dialect, the normalized spec (JSON, defaults
/// filled, no paths, no [`THROTTLES`], no `dialect:` nor `transform.dialects`) and every
/// statement with its step and batch. Hex, 64 characters.
pub fn fingerprint<'a>(plan: &Plan, statements: impl Iterator<Item = &'a Statement>) -> String {
    fingerprint_of(crate::sql::Dialect::DataFusion, plan, statements)
}

/// [`fingerprint`] of a plan in `dialect`.
pub fn fingerprint_of<'a>(
    dialect: crate::sql::Dialect,
    plan: &Plan,
    statements: impl Iterator<Item = &'a Statement>,
) -> String {
    let mut h = Sha256::new();
    h.update(TOOL_VERSION.as_bytes());
    h.update(b"\n");
    h.update(dialect.name().as_bytes());
    h.update(b"\n");
    let mut spec = serde_json::to_value(&plan.spec).expect("a spec always serializes");
    if let Some(execution) = spec.get_mut("execution").and_then(|e| e.as_object_mut()) {
        for field in THROTTLES {
            execution.remove(field);
        }
    }
    // Which dialect renders, and the transforms of other dialects, are not this plan: the
    // statements hold the transform this dialect rendered.
    if let Some(spec) = spec.as_object_mut() {
        spec.remove("dialect");
    }
    if let Some(transform) = spec.get_mut("transform").and_then(|t| t.as_object_mut()) {
        transform.remove("dialects");
    }
    h.update(serde_json::to_vec(&spec).expect("a spec always serializes"));
    for s in statements {
        h.update(format!("\n-- {} {:?}\n", s.step, s.batch).as_bytes());
        h.update(s.sql.as_bytes());
    }
    hex::encode(h.finalize())
}
