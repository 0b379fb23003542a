//! Stage 3: rendering. Turns a [`Plan`] into every SQL statement of the backfill, in
//! execution order, from the dialect's minijinja templates; parses each one back with
//! DataFusion's parser before anyone sees it; and computes the plan fingerprint.
//! Renders only; writes nothing.

pub mod templates;

use minijinja::{context, Environment, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use templates::{Templates, DIALECT};

use crate::plan::{Batch, Plan};
use crate::spec::SpecError;
use crate::plan::transform::{self, TransformTemplate};
use crate::sql::{self, check_parses};

/// The URL under which the warehouse root is mounted in backfill's DataFusion session.
/// Rendered locations use it so a plan (and its fingerprint) does not depend on where
/// the warehouse lives on this machine.
pub const WAREHOUSE_URL: &str = "bf://warehouse/";

/// The tool version that goes into every fingerprint.
pub const TOOL_VERSION: &str = concat!("backfill ", env!("CARGO_PKG_VERSION"));

/// Errors while rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template does not compile or render (exit 2).
    #[error("template {template}: {message}\n  fix: correct the template, or drop the --templates override")]
    Template {
        /// The template file.
        template: String,
        /// minijinja's message.
        message: String,
    },
    /// A rendered statement does not parse (exit 2).
    #[error("template {template} rendered SQL that does not parse ({step}{batch}): {message}\n--- rendered SQL ---\n{sql}\n  fix: correct the template")]
    Parse {
        /// The template file.
        template: String,
        /// The step.
        step: Step,
        /// `, batch N` or empty.
        batch: String,
        /// The parser's message.
        message: String,
        /// The statement as rendered.
        sql: String,
    },
    /// The transform, which comes from the spec, failed (exit 2).
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// What a statement does, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Create the consumer view as `SELECT * FROM <base>` if it does not exist yet. Always
    /// rendered, so the fingerprint does not change once the view exists.
    PrepareView,
    /// Declare the shadow table.
    CreateShadow,
    /// Evaluate the transform for one batch, cast to the base schema (the dry run runs
    /// this in memory; [`Step::WriteBatch`] writes its result).
    EvaluateBatch,
    /// Run the transform for one batch into its staging prefix.
    WriteBatch,
    /// Move a batch's staged files into the shadow's partition folders, replacing earlier attempts.
    CommitBatch,
    /// Structural and aggregate, per partition: rows and each metric, base vs shadow;
    /// NULLs of `not_null` columns in the shadow.
    ReconcilePartitions,
    /// Structural: duplicate (partition key, keys) in the shadow.
    ReconcileUniqueKeys,
    /// Row-level: unchanged, changed, added and removed rows per partition.
    ReconcileRows,
    /// Row-level: the largest changes.
    ReconcileTopChanges,
    /// Row-level: a sample of unchanged, added and removed rows.
    ReconcileSamples,
    /// Aggregate, once every batch is done: each metric by one query over the whole
    /// range of the base and of the shadow.
    ReconcileRange,
    /// Dry run over a sample: each metric over the sampled partitions and over bootstrap
    /// resamples of them (not part of the executed plan).
    EstimateMetrics,
    /// Publish: redefine the consumer view in one catalog commit.
    ViewSwap,
    /// Publish: the release-ledger row.
    LedgerPublish,
    /// Rollback: restore the consumer view's previous body.
    Rollback,
    /// Rollback: the release-ledger row.
    LedgerRollback,
}

impl Step {
    /// The template that renders this step.
    pub fn template(self) -> &'static str {
        match self {
            Step::PrepareView => "prepare_view",
            Step::CreateShadow => "create_shadow",
            Step::EvaluateBatch => "evaluate_batch",
            Step::WriteBatch => "write_batch",
            Step::CommitBatch => "commit_batch",
            Step::ReconcilePartitions => "reconcile_partitions",
            Step::ReconcileUniqueKeys => "reconcile_unique_keys",
            Step::ReconcileRows => "reconcile_rows",
            Step::ReconcileTopChanges => "reconcile_top_changes",
            Step::ReconcileSamples => "reconcile_samples",
            Step::ReconcileRange => "reconcile_range",
            Step::EstimateMetrics => "estimate_metrics",
            Step::ViewSwap => "view_swap",
            Step::LedgerPublish | Step::LedgerRollback => "ledger_insert",
            Step::Rollback => "rollback",
        }
    }

    /// The step's name, as in JSON output and `--out` file names: `write_batch`, `ledger_publish`.
    pub fn name(self) -> &'static str {
        match self {
            Step::LedgerPublish => "ledger_publish",
            Step::LedgerRollback => "ledger_rollback",
            other => other.template(),
        }
    }

    /// One line saying what the step does, for plan comments.
    pub fn describe(self) -> &'static str {
        match self {
            Step::PrepareView => "create the consumer view over the base table if it does not exist (its own catalog commit)",
            Step::CreateShadow => "declare the shadow table",
            Step::EvaluateBatch => "evaluate the batch's corrected rows in memory (dry run)",
            Step::WriteBatch => "write the batch's corrected partitions to its staging prefix",
            Step::CommitBatch => "commit staged files into the shadow's partitions (replacing earlier attempts)",
            Step::ReconcilePartitions => "reconcile, structural and aggregate: rows, metrics and NULLs per partition",
            Step::ReconcileUniqueKeys => "reconcile, structural: duplicate keys in the shadow",
            Step::ReconcileRows => "reconcile, row-level: unchanged / changed / added / removed",
            Step::ReconcileTopChanges => "reconcile, row-level: largest changes",
            Step::ReconcileSamples => "reconcile, row-level: sample of unchanged, added and removed rows",
            Step::ReconcileRange => "reconcile, aggregate, once every batch is done: each metric over the whole range, base vs shadow",
            Step::EstimateMetrics => "dry run: each metric over a sample of partitions and its bootstrap resamples",
            Step::ViewSwap => "publish: swap the consumer view (one atomic catalog commit)",
            Step::LedgerPublish => "publish: record the release in governance.data_releases",
            Step::Rollback => "restore the consumer view's previous body",
            Step::LedgerRollback => "rollback: record the rollback in governance.data_releases",
        }
    }
}

impl Step {
    /// The steps run for every batch of `spec`, in order; checks the spec does not ask
    /// for are left out.
    pub fn per_batch(spec: &crate::spec::Spec) -> Vec<Step> {
        let v = &spec.validation;
        let mut steps = vec![Step::WriteBatch, Step::CommitBatch, Step::ReconcilePartitions];
        if v.unique_keys {
            steps.push(Step::ReconcileUniqueKeys);
        }
        steps.extend([Step::ReconcileRows, Step::ReconcileTopChanges, Step::ReconcileSamples]);
        steps
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One rendered statement.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    /// 1-based position in execution order.
    pub index: usize,
    /// What it does.
    pub step: Step,
    /// The batch it belongs to, if any.
    pub batch: Option<u32>,
    /// The SQL, exactly as it will run.
    pub sql: String,
}

/// Every statement of a plan, parsed and fingerprinted.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedPlan {
    /// The dialect rendered (`datafusion`).
    pub dialect: &'static str,
    /// Statements in execution order.
    pub statements: Vec<Statement>,
    /// Hex sha256 over the tool version, the normalized spec and every statement.
    pub fingerprint: String,
}

#[derive(Serialize)]
struct Shared<'a> {
    base: String,
    shadow: String,
    view: String,
    partition_key: &'a str,
    identity: Vec<String>,
    compare: Vec<CompareCtx>,
    columns: Vec<ColumnCtx<'a>>,
    not_null: &'a [String],
    sample_rows: u32,
    order_column: Option<String>,
    shadow_location: String,
    range_start: Value,
    range_end: Value,
    excluded: Vec<Value>,
    source_range: String,
    partitions: usize,
    previous_body: Value,
}

/// A compared (non-key) column and how its values are compared: `tolerance` is a SQL
/// literal (an exact decimal amount, or a relative float tolerance when `relative`), or
/// none for exact NULL-safe equality.
#[derive(Serialize)]
struct CompareCtx {
    name: String,
    tolerance: Option<Value>,
    relative: bool,
}

#[derive(Serialize)]
struct ColumnCtx<'a> {
    name: &'a str,
    sql_type: Value,
}

/// One rendered per-batch statement: its step, its batch and its SQL.
type BatchStatement = (Step, u32, String);

/// Render every statement of `plan` with `templates`, parse each back, and fingerprint.
///
/// Errors: [`RenderError::Template`] for a template that does not compile or render,
/// [`RenderError::Parse`] for a statement that does not parse (naming the template),
/// [`RenderError::Spec`] for a transform that does not render or parse (at its spec line).
pub fn render(plan: &Plan, templates: &Templates) -> Result<RenderedPlan, RenderError> {
    let r = StatementRenderer::new(plan, templates, &plan.spec.target.shadow)?;
    let spec = &plan.spec;
    let per_batch = Step::per_batch(spec);
    // Batches render independently: spread them over the cores, keep their order.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(plan.batches.len()).max(1);
    let chunk = plan.batches.len().div_ceil(workers);
    let rendered_batches: Vec<Result<Vec<BatchStatement>, RenderError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = plan
            .batches
            .chunks(chunk)
            .map(|batches| {
                let (r, per_batch) = (&r, &per_batch);
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(batches.len() * per_batch.len());
                    for batch in batches {
                        let ctx = r.batch_context(batch)?;
                        for step in per_batch {
                            out.push((*step, batch.number, r.render_with(*step, Some(batch), ctx.clone())?));
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("render worker panicked")).collect()
    });
    let mut statements: Vec<Statement> = Vec::with_capacity(plan.batches.len() * per_batch.len() + 6);
    let mut push =
        |step: Step, batch: Option<u32>, sql: String| statements.push(Statement { index: statements.len() + 1, step, batch, sql });
    push(Step::PrepareView, None, r.render_step(Step::PrepareView, None)?);
    push(Step::CreateShadow, None, r.render_step(Step::CreateShadow, None)?);
    for part in rendered_batches {
        for (step, batch, sql) in part? {
            push(step, Some(batch), sql);
        }
    }
    for step in [Step::ReconcileRange, Step::ViewSwap, Step::LedgerPublish, Step::Rollback, Step::LedgerRollback] {
        push(step, None, r.render_step(step, None)?);
    }
    let fingerprint = fingerprint(plan, &statements);
    Ok(RenderedPlan { dialect: DIALECT, statements, fingerprint })
}

/// Renders single steps of one plan; [`render`] uses it for the whole plan, the dry run
/// for its in-memory sample (with the shadow replaced by the sample's table name).
pub struct StatementRenderer<'p> {
    plan: &'p Plan,
    env: Environment<'static>,
    transform: TransformTemplate,
    shared: Value,
}

impl<'p> StatementRenderer<'p> {
    /// Compile the templates and the transform for `plan`, with `shadow` as the table
    /// the reconciliation statements compare with the base.
    ///
    /// Errors: as [`render`].
    pub fn new(plan: &'p Plan, templates: &Templates, shadow: &crate::spec::TableName) -> Result<Self, RenderError> {
        let env = templates.environment().map_err(|(template, message)| RenderError::Template { template, message })?;
        let transform = TransformTemplate::compile(&plan.spec)?;
        let spec = &plan.spec;
        let data_columns: Vec<String> = plan.columns.iter().filter(|c| !c.is_partition).map(|c| c.name.clone()).collect();
        let identity = if spec.target.keys.is_empty() { data_columns.clone() } else { spec.target.keys.clone() };
        let shared = Shared {
            base: spec.target.table.to_string(),
            shadow: shadow.to_string(),
            view: spec.target.view.to_string(),
            partition_key: &spec.target.partition_key,
            compare: plan.columns.iter().filter(|c| !c.is_partition && !identity.contains(&c.name)).map(|c| compare_ctx(spec, c)).collect(),
            identity,
            columns: plan
                .columns
                .iter()
                .map(|c| ColumnCtx { name: &c.name, sql_type: Value::from_safe_string(c.sql_type.clone()) })
                .collect(),
            not_null: &spec.validation.not_null,
            sample_rows: spec.validation.sample_rows,
            order_column: order_column(plan),
            shadow_location: format!("{WAREHOUSE_URL}{}", spec.target.shadow.prefix()),
            range_start: sql::date_value(spec.source_range.start),
            range_end: sql::date_value(spec.source_range.end),
            excluded: spec.source_range.exclude.iter().map(|d| sql::date_value(*d)).collect(),
            source_range: scope_text(plan),
            partitions: plan.partitions.len(),
            previous_body: Value::from_safe_string(plan.view.body.clone()),
        };
        let metrics: Vec<Value> = spec
            .validation
            .metrics
            .iter()
            .map(|m| context! { name => m.name.as_str(), sql => Value::from_safe_string(m.sql.clone()) })
            .collect();
        let shared = context! { metrics => metrics, ..Value::from_serialize(&shared) };
        Ok(Self { plan, env, transform, shared })
    }

    /// The template context of `batch`: the shared values plus the batch and its
    /// transform, rendered and parsed once for all of the batch's steps.
    ///
    /// Errors: the transform does not render or parse ([`RenderError::Spec`]).
    pub fn batch_context(&self, batch: &Batch) -> Result<Value, RenderError> {
        let spec = &self.plan.spec;
        let sql = self.transform.render(spec, &batch.partitions)?;
        transform::parse_query(spec, &sql)?;
        let indented: Vec<String> = sql.lines().map(|l| if l.is_empty() { String::new() } else { format!("    {l}") }).collect();
        Ok(context! { batch => batch_ctx(spec, batch), transform => Value::from_safe_string(indented.join("\n")), ..self.shared.clone() })
    }

    /// Render `step` (for `batch`, when it is a per-batch step) and parse it back.
    ///
    /// Errors: as [`render`].
    pub fn render_step(&self, step: Step, batch: Option<&Batch>) -> Result<String, RenderError> {
        let ctx = match (step, batch) {
            (Step::LedgerPublish, _) => context! { action => "publish", ..self.shared.clone() },
            (Step::LedgerRollback, _) => context! { action => "rollback", ..self.shared.clone() },
            (_, Some(batch)) => self.batch_context(batch)?,
            (_, None) => self.shared.clone(),
        };
        self.render_with(step, batch, ctx)
    }

    fn render_with(&self, step: Step, batch: Option<&Batch>, ctx: Value) -> Result<String, RenderError> {
        let name = step.template();
        let file = || format!("templates/{DIALECT}/{name}.sql.j2");
        let tmpl = self.env.get_template(name).map_err(|e| RenderError::Template { template: file(), message: e.to_string() })?;
        let sql = tmpl.render(ctx).map_err(|e| RenderError::Template { template: file(), message: format!("{e:#}") })?;
        let sql = sql.trim().to_string();
        check_parses(&sql).map_err(|message| RenderError::Parse {
            template: file(),
            step,
            batch: batch.map(|b| format!(", batch {}", b.number)).unwrap_or_default(),
            message,
            sql: sql.clone(),
        })?;
        Ok(sql)
    }
}

fn batch_ctx(spec: &crate::spec::Spec, batch: &Batch) -> Value {
    context! {
        number => batch.number,
        partitions => batch.partitions.iter().map(|d| sql::date_value(*d)).collect::<Vec<_>>(),
        start => sql::date_value(batch.start()),
        end => sql::date_value(batch.end()),
        staging => format!("{WAREHOUSE_URL}_backfills/{}/staging/{:04}/", spec.backfill_id, batch.number),
    }
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

/// The column the largest changes are ordered by: the first signed numeric (integer,
/// decimal or float) non-key base column that a metric's expression names, metrics in
/// spec order (`sum(net_revenue)` → `net_revenue`; `count(DISTINCT carrier)` names no
/// numeric column and is passed over).
pub fn order_column(plan: &Plan) -> Option<String> {
    let numeric = |t: &datafusion::arrow::datatypes::DataType| {
        t.is_signed_integer()
            || t.is_floating()
            || matches!(t, datafusion::arrow::datatypes::DataType::Decimal128(..) | datafusion::arrow::datatypes::DataType::Decimal256(..))
    };
    plan.spec.validation.metrics.iter().find_map(|metric| {
        metric.sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).find_map(|w| {
            plan.columns
                .iter()
                .find(|c| c.name == w && !c.is_partition && !plan.spec.target.keys.contains(&c.name) && numeric(&c.data_type))
                .map(|c| c.name.clone())
        })
    })
}

/// How column `c` is compared (see [`CompareCtx`]): floats within a relative tolerance
/// (the spec's `value_tolerance`, else [`crate::spec::DEFAULT_FLOAT_TOLERANCE`]);
/// decimals and integers exactly, within the spec's amount when it gives one; anything
/// else by NULL-safe equality.
fn compare_ctx(spec: &crate::spec::Spec, c: &crate::plan::Column) -> CompareCtx {
    use datafusion::arrow::datatypes::DataType;
    let given = spec.validation.value_tolerance.get(&c.name);
    let (tolerance, relative) = if c.data_type.is_floating() {
        (Some(given.map_or(crate::spec::DEFAULT_FLOAT_TOLERANCE, String::as_str).to_string()), true)
    } else if c.data_type.is_integer() || matches!(c.data_type, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        // An exact literal: DataFusion reads a bare 0.01 as a float.
        (
            given.map(|amount| {
                let scale = amount.split_once('.').map_or(0, |(_, f)| f.len());
                format!("CAST('{amount}' AS DECIMAL(38, {scale}))")
            }),
            false,
        )
    } else {
        (None, false)
    };
    CompareCtx { name: c.name.clone(), tolerance: tolerance.map(Value::from_safe_string), relative }
}

/// The `execution` fields the fingerprint leaves out: throttles, which change how fast
/// and how carefully a run goes but never what it writes or checks. A run can be slowed
/// down, given a longer `query_timeout` or a larger byte budget, and resumed.
pub const THROTTLES: [&str; 5] = ["max_concurrency", "pause_between_batches", "query_timeout", "max_bytes_scanned", "live_pipeline_marker"];

/// sha256 over the tool version, the dialect, the normalized spec (JSON, defaults
/// filled, no paths, no [`THROTTLES`]) and every statement with its step and batch. Hex,
/// 64 characters.
pub fn fingerprint(plan: &Plan, statements: &[Statement]) -> String {
    let mut h = Sha256::new();
    h.update(TOOL_VERSION.as_bytes());
    h.update(b"\n");
    h.update(DIALECT.as_bytes());
    h.update(b"\n");
    let mut spec = serde_json::to_value(&plan.spec).expect("a spec always serializes");
    if let Some(execution) = spec.get_mut("execution").and_then(|e| e.as_object_mut()) {
        for field in THROTTLES {
            execution.remove(field);
        }
    }
    h.update(serde_json::to_vec(&spec).expect("a spec always serializes"));
    for s in statements {
        h.update(format!("\n-- {} {:?}\n", s.step, s.batch).as_bytes());
        h.update(s.sql.as_bytes());
    }
    hex::encode(h.finalize())
}
