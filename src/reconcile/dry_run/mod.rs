//! The dry run, `backfill run SPEC` without `--execute`: evaluate the transform in
//! memory, twice, and compare the result with the base using the same reconciliation
//! statements a real run uses. Nothing is written: the evaluated rows live in a
//! `MemTable` of this process.
//!
//! When the estimated scan of the whole range (source footers plus the base's files in
//! range) fits the budget (`--dry-run-budget`, default [`DEFAULT_BUDGET`]), the whole
//! range is evaluated and each metric comes from the same whole-range statement a run
//! ends with: its deltas are exactly those `--execute` will report. Otherwise a sample
//! stratified by month is evaluated ([`sample`]) and each delta is an estimate with a
//! 95 % bootstrap interval; a whole-range gate then says PASS, FAIL or UNCERTAIN.

mod estimate;
pub mod sample;

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use crate::catalog;
use crate::error::engine;
use crate::execute::engine::DataFusionEngine;
use crate::execute::output;
use crate::execute::session::{self, SessionOptions};
use crate::plan::{Batch, Estimate, Plan};
use crate::reconcile::MetricTotal;
use crate::reconcile::{self, gates, Gate, GateKind, RangeReconciliation, Reconciliation};
use crate::render::{StatementRenderer, Step, Templates};
use crate::spec::TableName;
use crate::warehouse::Warehouse;
use crate::Error;

/// Estimated scan up to which the whole range is evaluated: 1 GiB.
pub const DEFAULT_BUDGET: u64 = 1 << 30;

/// Partitions sampled over the budget when `--sample` is not given (at least two per month).
pub const DEFAULT_SAMPLE: usize = 24;

/// How the dry run is sized.
#[derive(Debug, Clone)]
pub struct DryRunOptions {
    /// Estimated bytes up to which the whole range is evaluated.
    pub budget: u64,
    /// Partitions to sample above the budget (at least two per month).
    pub sample: usize,
    /// Engine sizing.
    pub session: SessionOptions,
}

/// What the dry run evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// Every partition of the range: the figures are exact.
    WholeRange,
    /// A stratified sample: the figures are estimates with intervals.
    Sample,
}

/// What the dry run found: the reconciliation of the evaluated partitions against the
/// base, each metric, and the gates. The report stage turns it into the one report model
/// (`report::dry_run`), which the CLI prints.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The whole range, or a sample of it.
    pub coverage: Coverage,
    /// Estimated scan of the whole range (source footers plus base files), bytes.
    pub estimated_bytes: u64,
    /// `--dry-run-budget`, bytes.
    pub budget: u64,
    /// The partitions evaluated, ascending.
    pub evaluated: Vec<NaiveDate>,
    /// The evaluated rows against the base: per partition, samples of each row class and
    /// the largest changes (at most `sample_rows` each).
    pub reconciliation: Reconciliation,
    /// Each metric, as the report shows it (with an interval over a sample).
    pub metrics: Vec<MetricTotal>,
    /// False when two evaluations of the same partitions gave different rows.
    pub deterministic: bool,
    /// Every gate on the evaluated partitions (`batch_expected_delta` aside: batches are
    /// not evaluated one by one), then each `expected_delta`.
    pub gates: Vec<Gate>,
}

/// The in-memory table the evaluated rows are registered as.
fn evaluated_table() -> TableName {
    TableName::new("backfill_dry_run", "evaluated")
}

async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, Error> {
    ctx.sql(sql).await.map_err(engine)?.collect().await.map_err(engine)
}

/// Evaluate each group of partitions as a batch of its own (so each reads only its own
/// source partitions) twice, sorted by every column; returns the first evaluation and
/// whether the second gave the same rows, and the rows' schema.
///
/// Errors: engine errors; [`Error::Usage`] for no groups.
async fn evaluate(
    ctx: &SessionContext,
    r: &StatementRenderer<'_>,
    groups: &[Vec<NaiveDate>],
) -> Result<(Vec<RecordBatch>, bool, SchemaRef), Error> {
    let (mut out, mut same, mut schema_of) = (Vec::new(), true, None);
    for partitions in groups {
        let batch = Batch { number: 0, partitions: partitions.clone(), estimate: Estimate::default() };
        let sql = r.render_step(Step::EvaluateBatch, Some(&batch))?;
        let df = ctx.sql(&sql).await.map_err(engine)?;
        let schema = df.schema().inner().clone();
        let order: Vec<String> = (1..=schema.fields().len()).map(|i| i.to_string()).collect();
        let sorted = format!("SELECT * FROM ({sql}) AS evaluated ORDER BY {}", order.join(", "));
        let first = query(ctx, &sorted).await?;
        let second = query(ctx, &sorted).await?;
        let together = |b: &[RecordBatch]| concat_batches(&schema, b).map_err(|e| engine(e.into()));
        same &= together(&first)? == together(&second)?;
        out.extend(first);
        schema_of = Some(schema);
    }
    let schema = schema_of.ok_or_else(|| Error::Usage("the dry run has no partition to evaluate".into()))?;
    Ok((out, same, schema))
}

/// Run the dry run for `plan` against `wh`.
///
/// Errors: [`Error::Spec`] when the transform's output does not fit the base table (see
/// [`output::check`]); [`Error::MissingColumn`] when a reconciliation template lacks a
/// column; engine and store errors otherwise.
pub async fn dry_run(
    plan: &Plan,
    wh: &Warehouse,
    templates: &Templates,
    opts: &DryRunOptions,
) -> Result<DryRun, Error> {
    let spec = &plan.spec;
    let ctx = session::open(wh, &catalog::latest(wh).await?, &opts.session).await?;
    // Nothing is saved: the dry run writes nothing.
    let checker = DataFusionEngine::new(ctx.clone(), wh, None, spec.execution.query_timeout);
    output::check(&checker, plan, &plan.batches[0].partitions).await?;

    // Estimated bytes a whole-range evaluation reads: the sources' footers plus the base's
    // files in the range (the plan's listing).
    let estimated_bytes = plan.estimate().bytes + plan.base_bytes;
    let coverage = if estimated_bytes <= opts.budget { Coverage::WholeRange } else { Coverage::Sample };
    let (evaluated, groups): (Vec<NaiveDate>, Vec<Vec<NaiveDate>>) = match coverage {
        Coverage::WholeRange => (plan.partitions.clone(), plan.batches.iter().map(|b| b.partitions.clone()).collect()),
        Coverage::Sample => {
            let picked = sample::stratified(&plan.partitions, opts.sample);
            (picked.clone(), picked.into_iter().map(|d| vec![d]).collect())
        }
    };
    let r = StatementRenderer::new(plan, templates, &evaluated_table())?;
    let (rows, deterministic, schema) = evaluate(&ctx, &r, &groups).await?;
    register(&ctx, &evaluated_table(), MemTable::try_new(schema.clone(), vec![rows]).map_err(engine)?)?;

    let batch = Batch { number: 0, partitions: evaluated.clone(), estimate: Estimate::default() };
    let statements = r.reconcile_statements(&batch)?;
    let mut reconciliation = reconcile::reconcile(spec, &statements, |s| {
        let (ctx, sql) = (ctx.clone(), s.sql.clone());
        async move { query(&ctx, &sql).await }
    })
    .await?;
    let base_schema = ctx
        .table(TableReference::partial(spec.target.table.schema.as_str(), spec.target.table.table.as_str()))
        .await
        .map_err(engine)?
        .schema()
        .inner()
        .clone();
    reconciliation.schema_differences = reconcile::schema_differences(&base_schema, &schema);
    let mut gates: Vec<Gate> = gates::check_batch(spec, &reconciliation, "evaluated partitions")
        .into_iter()
        .filter(|g| !matches!(g.name, GateKind::BatchExpectedDelta(_)))
        .collect();

    let metrics = match coverage {
        Coverage::WholeRange => {
            let rows = query(&ctx, &r.render_step(Step::ReconcileRange, None)?).await?;
            let range = RangeReconciliation::from_result(
                spec,
                &rows,
                "dry run",
                plan.partitions.len() as u64,
                chrono::Utc::now(),
            )?;
            gates.extend(range.gates.iter().cloned());
            MetricTotal::over_range(spec, &range)
        }
        Coverage::Sample => estimate::estimate_metrics(&ctx, &r, plan, &batch, &mut gates).await?,
    };

    Ok(DryRun {
        coverage,
        estimated_bytes,
        budget: opts.budget,
        evaluated,
        reconciliation,
        metrics,
        deterministic,
        gates,
    })
}

pub(super) fn register(ctx: &SessionContext, name: &TableName, table: MemTable) -> Result<(), Error> {
    session::ensure_schema(ctx, &name.schema);
    ctx.register_table(TableReference::partial(name.schema.as_str(), name.table.as_str()), Arc::new(table))
        .map_err(engine)?;
    Ok(())
}
