//! Stage 5: reconciliation. After a batch is committed, its partitions of the shadow are
//! compared with the same partitions of the base at three levels (DESIGN.md,
//! reconciliation): structural (rows per partition, duplicate keys, NULLs, schema),
//! aggregate (each metric per partition and over the batch) and row-level (unchanged /
//! changed / added / removed rows, the largest changes, samples). When every batch is
//! done, [`range`] computes each metric once over the whole range. [`gates`] turns the
//! results into verdicts; [`read`] reads results by column name.
//!
//! The rendered reconciliation statements run unchanged in a batch session
//! ([`batch_session`]) where the base and shadow names are in-memory tables holding only
//! the batch's partitions: each side is read once, and the statements do not touch the
//! list-files cache that concurrent batches write through.

pub mod gates;
pub mod range;
pub mod read;

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::extract_equijoin_predicate::ExtractEquijoinPredicate;
use datafusion::optimizer::simplify_expressions::SimplifyExpressions;
use datafusion::optimizer::OptimizerRule;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};

use crate::error::engine;
use crate::execute::Table;
use crate::number::{percent_change, Number};
use crate::render::Step;
use crate::spec::{Spec, TableName};
use crate::Error;

pub use gates::{Gate, Verdict};
pub use range::RangeReconciliation;
use read::Rows;

/// Old and new value of one metric over some rows (NULL when a side has no rows, or
/// the aggregate is NULL): exact for integer and decimal results.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricPair {
    /// The base's value.
    pub old: Option<Number>,
    /// The shadow's value.
    pub new: Option<Number>,
}

impl MetricPair {
    /// (new − old) / |old| × 100; `None` when either side is missing or old is 0.
    pub fn percent(&self) -> Option<f64> {
        percent_change(self.old.as_ref(), self.new.as_ref())
    }

    /// new − old, exact when both are; `None` when either side is missing.
    pub fn delta(&self) -> Option<Number> {
        Some(self.new.as_ref()?.minus(self.old.as_ref()?))
    }
}

/// Everything measured about one partition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionResult {
    /// The partition.
    pub partition: NaiveDate,
    /// Rows in the base.
    pub base_rows: u64,
    /// Rows in the shadow.
    pub shadow_rows: u64,
    /// Same key, same values.
    pub unchanged: u64,
    /// Same key, some value differs.
    pub changed: u64,
    /// Key only in the shadow.
    pub added: u64,
    /// Key only in the base.
    pub removed: u64,
    /// Each `validation.metrics` entry over this partition alone, in spec order (for
    /// the per-partition chart and outliers; never added up into a total).
    pub metrics: Vec<MetricPair>,
    /// NULLs in the shadow per `validation.not_null` column, in spec order.
    pub nulls: Vec<u64>,
}

/// The reconciliation of one batch (or of the dry run's sample).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// One entry per partition present on either side, ascending.
    pub partitions: Vec<PartitionResult>,
    /// Each `validation.metrics` entry over all of the batch's rows together (one
    /// aggregate, not a sum of partitions), in spec order; `batch_expected_delta` is
    /// checked on it.
    #[serde(default)]
    pub batch_metrics: Vec<MetricPair>,
    /// (partition key, keys) that occur more than once in the shadow, with their copies
    /// (at most 100 rows).
    pub duplicate_keys: Table,
    /// Differences between the base's and the shadow's column names and types; empty when
    /// they match.
    pub schema_differences: Vec<String>,
    /// The largest changes, by the first metric's column (at most `sample_rows`).
    pub top_changes: Table,
    /// Rows the correction leaves as they were (at most `sample_rows`).
    pub unchanged_sample: Table,
    /// Rows only in the shadow (at most `sample_rows`).
    #[serde(default)]
    pub added_sample: Table,
    /// Rows only in the base (at most `sample_rows`).
    #[serde(default)]
    pub removed_sample: Table,
}

/// Rows by class, base vs recomputed (row-level reconciliation).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowClasses {
    /// Same key, same values.
    pub unchanged: u64,
    /// Same key, some value differs.
    pub changed: u64,
    /// Key only in the recomputed rows.
    pub added: u64,
    /// Key only in the base.
    pub removed: u64,
}

impl RowClasses {
    /// Sum of the classes of `partitions`.
    pub fn of(partitions: &[PartitionResult]) -> Self {
        partitions.iter().fold(Self::default(), |a, p| Self {
            unchanged: a.unchanged + p.unchanged,
            changed: a.changed + p.changed,
            added: a.added + p.added,
            removed: a.removed + p.removed,
        })
    }
}

/// A session where `base` and `shadow` are in-memory tables holding `base_rows` and
/// `shadow_rows`: the batch's partitions only. The rendered reconciliation statements run
/// in it as they are.
///
/// Errors: the two sides' schemas cannot form tables (engine error).
pub fn batch_session(
    base: &TableName,
    base_schema: SchemaRef,
    base_rows: Vec<RecordBatch>,
    shadow: &TableName,
    shadow_schema: SchemaRef,
    shadow_rows: Vec<RecordBatch>,
) -> Result<SessionContext, Error> {
    // The tables hold a few partitions in memory, so planning, not execution, is the cost
    // of every statement: one thread, one optimizer pass, and of the logical optimizer
    // only the two rules the physical planner needs (COALESCE becomes CASE; join keys
    // become equi-join keys for a hash join). Optimizer rules never change results, so
    // leaving the others out only makes plans less clever; it halves planning time.
    let mut config = SessionConfig::new().with_target_partitions(1).with_information_schema(false);
    config.options_mut().optimizer.max_passes = 1;
    let rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> =
        vec![Arc::new(SimplifyExpressions::new()), Arc::new(ExtractEquijoinPredicate::new())];
    let state = SessionStateBuilder::new().with_config(config).with_default_features().with_optimizer_rules(rules).build();
    let ctx = SessionContext::new_with_state(state);
    for (name, schema, rows) in [(base, base_schema, base_rows), (shadow, shadow_schema, shadow_rows)] {
        crate::execute::session::ensure_schema(&ctx, &name.schema);
        let mem = MemTable::try_new(schema, vec![rows]).map_err(engine)?;
        ctx.register_table(TableReference::partial(name.schema.as_str(), name.table.as_str()), Arc::new(mem)).map_err(engine)?;
    }
    Ok(ctx)
}

/// Column-by-column differences between two schemas (names and types, nullability aside).
pub fn schema_differences(base: &SchemaRef, shadow: &SchemaRef) -> Vec<String> {
    let mut out = Vec::new();
    for f in base.fields() {
        match shadow.field_with_name(f.name()) {
            Err(_) => out.push(format!("column `{}` is missing from the shadow", f.name())),
            Ok(s) if s.data_type() != f.data_type() => {
                out.push(format!("column `{}` is {} in the base and {} in the shadow", f.name(), f.data_type(), s.data_type()))
            }
            Ok(_) => {}
        }
    }
    for f in shadow.fields() {
        if base.field_with_name(f.name()).is_err() {
            out.push(format!("column `{}` is in the shadow only", f.name()));
        }
    }
    out
}

/// Run the batch's reconciliation statements in `ctx` and gather the results.
/// `statement(step)` gives the rendered SQL of a step (`None` for steps the spec turns
/// off); `run` executes one statement (so the caller can save and time it).
///
/// Errors: an engine error from any statement; a partition value that is not a date.
pub async fn reconcile<'s, F, Fut>(spec: &Spec, statement: impl Fn(Step) -> Option<&'s str>, run: F) -> Result<Reconciliation, Error>
where
    F: Fn(Step, &'s str) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<RecordBatch>, Error>>,
{
    let key = spec.target.partition_key.as_str();
    let mut result = Reconciliation::default();
    let mut by_day: std::collections::BTreeMap<NaiveDate, PartitionResult> = Default::default();
    let (n_metrics, n_nulls) = (spec.validation.metrics.len(), spec.validation.not_null.len());
    macro_rules! entry {
        ($day:expr) => {
            by_day.entry($day).or_insert_with(|| PartitionResult {
                partition: $day,
                metrics: vec![MetricPair::default(); n_metrics],
                nulls: vec![0; n_nulls],
                ..Default::default()
            })
        };
    }
    // Every statement at once (the caller may run them on separate cores), then the results.
    let steps =
        [Step::ReconcilePartitions, Step::ReconcileRows, Step::ReconcileUniqueKeys, Step::ReconcileTopChanges, Step::ReconcileSamples];
    let present: Vec<(Step, &str)> = steps.into_iter().filter_map(|step| statement(step).map(|sql| (step, sql))).collect();
    let outputs = futures::future::try_join_all(present.iter().map(|&(step, sql)| run(step, sql))).await?;
    let mut outputs: Vec<(Step, Vec<RecordBatch>)> = present.iter().map(|&(step, _)| step).zip(outputs).collect();
    let mut output = |step: Step| outputs.iter().position(|(s, _)| *s == step).map(|i| outputs.swap_remove(i).1);
    if let Some(batches) = output(Step::ReconcilePartitions) {
        for b in &batches {
            let rows = Rows::new(Step::ReconcilePartitions, b);
            for row in 0..rows.len() {
                let metrics = spec
                    .validation
                    .metrics
                    .iter()
                    .map(|m| {
                        Ok(MetricPair {
                            old: rows.number(&format!("base_{}", m.name), row)?,
                            new: rows.number(&format!("shadow_{}", m.name), row)?,
                        })
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                if rows.count("batch_total", row)? == 1 {
                    result.batch_metrics = metrics;
                    continue;
                }
                let (base_rows, shadow_rows) = (rows.count("base_rows", row)?, rows.count("shadow_rows", row)?);
                let nulls =
                    spec.validation.not_null.iter().map(|c| rows.count(&format!("{c}_nulls"), row)).collect::<Result<Vec<_>, Error>>()?;
                let d = day(&rows, key, row)?;
                let p = entry!(d);
                (p.base_rows, p.shadow_rows, p.metrics, p.nulls) = (base_rows, shadow_rows, metrics, nulls);
            }
        }
    }
    if let Some(batches) = output(Step::ReconcileRows) {
        for b in &batches {
            let rows = Rows::new(Step::ReconcileRows, b);
            for row in 0..rows.len() {
                let get = |c: &str| rows.count(c, row);
                let (unchanged, changed, added, removed) = (get("unchanged")?, get("changed")?, get("added")?, get("removed")?);
                let d = day(&rows, key, row)?;
                let p = entry!(d);
                (p.unchanged, p.changed, p.added, p.removed) = (unchanged, changed, added, removed);
            }
        }
    }
    let table = |batches: Vec<RecordBatch>| Table::from_batches(&batches).map_err(|e| engine(e.into()));
    if let Some(batches) = output(Step::ReconcileUniqueKeys) {
        result.duplicate_keys = table(batches)?;
    }
    if let Some(batches) = output(Step::ReconcileTopChanges) {
        result.top_changes = table(batches)?;
    }
    if let Some(batches) = output(Step::ReconcileSamples) {
        if let Some(b) = batches.first() {
            Rows::new(Step::ReconcileSamples, b).column("row_class")?;
        }
        let samples = table(batches)?;
        result.unchanged_sample = samples.rows_of_class("unchanged");
        result.added_sample = samples.rows_of_class("added");
        result.removed_sample = samples.rows_of_class("removed");
    }
    result.partitions = by_day.into_values().collect();
    Ok(result)
}

/// The partition of row `row` of a per-partition result.
///
/// Errors: a missing column; a NULL or non-date partition value.
fn day(rows: &Rows<'_>, key: &str, row: usize) -> Result<NaiveDate, Error> {
    rows.date(key, row)?
        .ok_or_else(|| Error::Corrupt { path: "reconciliation result".into(), message: format!("a NULL `{key}` in a per-partition row") })
}
