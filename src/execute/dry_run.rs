//! The dry run, `backfill run SPEC` without `--execute`: evaluate the transform for a
//! representative sample of partitions in memory, twice, and compare the result with the
//! base using the same reconciliation statements a real run uses. Nothing is written:
//! the sample lives in a `MemTable` of this process.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use datafusion::common::TableReference;
use serde::Serialize;

use super::session::{self, SessionOptions};
use super::{output, Table};
use crate::catalog;
use crate::reconcile::{self, gates, gates::Outlier, Gate, RowClasses, Totals};
use crate::plan::{Batch, Estimate, Plan};
use crate::render::{StatementRenderer, Step, Templates};
use crate::spec::{DeltaRange, TableName};
use crate::warehouse::Warehouse;
use crate::Error;
use crate::error::engine;

/// Partitions sampled when `--sample` is not given.
pub const DEFAULT_SAMPLE: usize = 6;

/// One metric over the sample: old, new and the relative change.
#[derive(Debug, Clone, Serialize)]
pub struct MetricDelta {
    /// Metric name.
    pub name: String,
    /// Sum over the sampled base partitions.
    pub old: f64,
    /// Sum over the recomputed sample.
    pub new: f64,
    /// (new − old) / |old| × 100; `None` when old is 0.
    pub percent: Option<f64>,
    /// The spec's expected range, if any.
    pub expected: Option<DeltaRange>,
}

impl MetricDelta {
    /// Whether the sample's change lies in the expected range (`None` without one).
    pub fn within(&self) -> Option<bool> {
        Some(self.expected?.contains(self.percent?))
    }
}

/// What the dry run found.
#[derive(Debug, Clone, Serialize)]
pub struct DryRun {
    /// The partitions evaluated, ascending.
    pub sampled: Vec<NaiveDate>,
    /// Row classes over the sample.
    pub classes: RowClasses,
    /// Each metric over the sample.
    pub metrics: Vec<MetricDelta>,
    /// The largest changes (at most `sample_rows`).
    pub changed_rows: Table,
    /// Rows the correction leaves as they are (at most `sample_rows`).
    pub unchanged_rows: Table,
    /// Rows the transform adds: keys only in its output (at most `sample_rows`).
    pub added_rows: Table,
    /// Rows the transform removes: keys only in the base (at most `sample_rows`).
    pub removed_rows: Table,
    /// Partitions in the range the spec excludes.
    pub excluded: Vec<NaiveDate>,
    /// Partitions to recompute for which no source table has a partition.
    pub without_source: Vec<NaiveDate>,
    /// False when two evaluations of the same partitions gave different rows.
    pub deterministic: bool,
    /// Every gate, checked on the sample alone.
    pub gates: Vec<Gate>,
    /// Sampled partitions whose own delta lies far outside the expected range.
    pub outliers: Vec<Outlier>,
    /// The estimate for the full run.
    pub estimate: Estimate,
}

/// Pick up to `n` partitions: the first, the last, both sides of the first month
/// boundary inside the range, then evenly spread ones. Deterministic.
pub fn pick_sample(partitions: &[NaiveDate], n: usize) -> Vec<NaiveDate> {
    let mut picked = BTreeSet::new();
    let n = n.max(1).min(partitions.len());
    let want = |d: NaiveDate, picked: &mut BTreeSet<NaiveDate>| {
        if picked.len() < n {
            picked.insert(d);
        }
    };
    want(partitions[0], &mut picked);
    want(partitions[partitions.len() - 1], &mut picked);
    if let Some(i) = partitions.iter().position(|d| d.day() == 1 && *d != partitions[0]) {
        want(partitions[i - 1], &mut picked);
        want(partitions[i], &mut picked);
    }
    let mut step = 1;
    while picked.len() < n {
        for k in 1..step {
            want(partitions[k * (partitions.len() - 1) / step], &mut picked);
        }
        step += 1;
    }
    picked.into_iter().collect()
}

/// The in-memory table the sample is registered as.
fn sample_table() -> TableName {
    TableName::new("backfill_dry_run", "sample")
}


async fn query(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>, Error> {
    ctx.sql(sql).await.map_err(engine)?.collect().await.map_err(engine)
}

/// Evaluate every sampled partition as a batch of its own (so each reads only its own
/// source partitions), sorted by every column so that two evaluations compare exactly.
async fn evaluate(ctx: &SessionContext, r: &StatementRenderer<'_>, sample: &[NaiveDate]) -> Result<Vec<RecordBatch>, Error> {
    let mut out = Vec::new();
    for day in sample {
        let batch = Batch { number: 0, partitions: vec![*day], estimate: Estimate::default() };
        let sql = r.render_step(Step::EvaluateBatch, Some(&batch))?;
        let width = ctx.sql(&sql).await.map_err(engine)?.schema().fields().len();
        let order: Vec<String> = (1..=width).map(|i| i.to_string()).collect();
        out.extend(query(ctx, &format!("SELECT * FROM ({sql}) AS evaluated ORDER BY {}", order.join(", "))).await?);
    }
    Ok(out)
}

/// Run the dry run for `plan` against `wh`.
///
/// Errors: [`Error::Spec`] when the transform's output does not fit the base table (see
/// [`output::check`]); engine and store errors otherwise.
pub async fn dry_run(plan: &Plan, wh: &Warehouse, templates: &Templates, sample: usize, opts: &SessionOptions) -> Result<DryRun, Error> {
    let spec = &plan.spec;
    let catalog = catalog::latest(wh).await?;
    let ctx = session::open(wh, &catalog, opts).await?;
    output::check(&ctx, plan, &plan.batches[0].partitions).await?;

    let sampled = pick_sample(&plan.partitions, sample);
    let r = StatementRenderer::new(plan, templates, &sample_table())?;
    let first = evaluate(&ctx, &r, &sampled).await?;
    let second = evaluate(&ctx, &r, &sampled).await?;
    let schema = match first.first() {
        Some(b) => b.schema(),
        None => ctx.sql(&r.render_step(Step::EvaluateBatch, Some(&Batch { number: 0, partitions: vec![sampled[0]], estimate: Estimate::default() }))?).await.map_err(engine)?.schema().inner().clone(),
    };
    let together = |b: &[RecordBatch]| concat_batches(&schema, b).map_err(|e| engine(e.into()));
    let deterministic = together(&first)? == together(&second)?;

    let table = sample_table();
    super::session::ensure_schema(&ctx, &table.schema);
    let mem = MemTable::try_new(schema.clone(), vec![first]).map_err(engine)?;
    ctx.register_table(TableReference::partial(table.schema.as_str(), table.table.as_str()), Arc::new(mem)).map_err(engine)?;

    let batch = Batch { number: 0, partitions: sampled.clone(), estimate: Estimate::default() };
    let mut statements = Vec::new();
    for step in Step::per_batch(spec).into_iter().filter(|s| s.name().starts_with("reconcile")) {
        statements.push((step, r.render_step(step, Some(&batch))?));
    }
    let find = |step: Step| statements.iter().find(|(s, _)| *s == step).map(|(_, sql)| sql.as_str());
    let mut reconciliation = reconcile::reconcile(spec, find, |_, sql| query(&ctx, sql)).await?;
    let base_schema = ctx.table(TableReference::partial(spec.target.table.schema.as_str(), spec.target.table.table.as_str())).await.map_err(engine)?.schema().inner().clone();
    reconciliation.schema_differences = reconcile::schema_differences(&base_schema, &schema);
    let mut totals = Totals::default();
    totals.add(&reconciliation);
    let gates = gates::check_batch(spec, &reconciliation, &totals, "sample");
    let classes = RowClasses::of(&reconciliation.partitions);
    let metrics = spec
        .validation
        .metrics
        .iter()
        .zip(&totals.metrics)
        .map(|(m, pair)| MetricDelta { name: m.name.clone(), old: pair.old.unwrap_or(0.0), new: pair.new.unwrap_or(0.0), percent: pair.percent(), expected: m.expected_delta })
        .collect();

    Ok(DryRun {
        sampled,
        classes,
        metrics,
        changed_rows: reconciliation.top_changes.clone(),
        unchanged_rows: reconciliation.unchanged_sample.clone(),
        added_rows: reconciliation.added_sample.clone(),
        removed_rows: reconciliation.removed_sample.clone(),
        excluded: spec.source_range.exclude.iter().copied().collect(),
        without_source: plan.without_source.clone(),
        deterministic,
        gates,
        outliers: gates::outliers(spec, &reconciliation.partitions),
        estimate: plan.estimate(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_takes_ends_month_boundary_and_spread() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let days: Vec<NaiveDate> = d("2024-12-01").iter_days().take_while(|x| *x <= d("2026-05-31")).collect();
        let s = pick_sample(&days, 6);
        assert_eq!(s.len(), 6);
        assert_eq!(s[0], d("2024-12-01"));
        assert_eq!(*s.last().unwrap(), d("2026-05-31"));
        assert!(s.contains(&d("2024-12-31")) && s.contains(&d("2025-01-01")));
        assert_eq!(pick_sample(&days[..2], 6), days[..2].to_vec());
    }
}
