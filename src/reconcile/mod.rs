//! Stage 5: reconciliation. After a batch is committed, its partitions of the shadow are
//! compared with the same partitions of the base at three levels (DESIGN.md,
//! reconciliation): structural (rows per partition, duplicate keys, NULLs, schema),
//! aggregate (each metric per partition and over the batch) and row-level (unchanged /
//! changed / added / removed rows, the largest changes, samples). When every batch is
//! done, [`range`] computes each metric once over the whole range. [`gates`] turns the
//! results into verdicts; [`read`] reads results by column name.
//!
//! [`BatchReconciler`] is how a run reconciles: it implements `execute::checks::Checks`,
//! and the CLI hands it to `execute::run::execute`. The rendered reconciliation
//! statements run unchanged on an engine over in-memory tables (`Engine::over_tables`)
//! where the base and shadow names hold only the batch's partitions: each side is read
//! once, and the statements do not touch the list-files cache that concurrent batches
//! write through. [`dry_run`] reconciles the transform's output without writing.

mod batch;
pub mod dry_run;
mod gate_kind;
pub mod gates;
mod metric;
pub mod range;
pub mod read;
mod table;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use crate::error::engine;
use crate::number::{percent_change, Number};
use crate::render::{ReconcileStatements, Statement, Step};
use crate::spec::Spec;
use crate::Error;

pub use batch::{BatchOutcome, BatchReconciler, Checkpoint};
pub use gates::{Gate, GateKind, Verdict};
pub use metric::MetricTotal;
pub use range::RangeReconciliation;
use read::Rows;
pub use table::Table;

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

/// Column-by-column differences between two schemas (names and types, nullability aside).
pub fn schema_differences(base: &SchemaRef, shadow: &SchemaRef) -> Vec<String> {
    let mut out = Vec::new();
    for f in base.fields() {
        match shadow.field_with_name(f.name()) {
            Err(_) => out.push(format!("column `{}` is missing from the shadow", f.name())),
            Ok(s) if s.data_type() != f.data_type() => out.push(format!(
                "column `{}` is {} in the base and {} in the shadow",
                f.name(),
                f.data_type(),
                s.data_type()
            )),
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

/// Run the batch's reconciliation `statements` and gather the results. `run` executes
/// one statement (so the caller chooses the engine, and may run them on separate cores).
///
/// Errors: an engine error from any statement; a result without a column that is read;
/// a partition value that is not a date.
pub async fn reconcile<F, Fut>(spec: &Spec, statements: &ReconcileStatements, run: F) -> Result<Reconciliation, Error>
where
    F: Fn(&Statement) -> Fut,
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
    let present: Vec<&Statement> = statements.iter().collect();
    let outputs = futures::future::try_join_all(present.iter().map(|s| run(s))).await?;
    let mut outputs: Vec<(Step, Vec<RecordBatch>)> = present.iter().map(|s| s.step).zip(outputs).collect();
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
                let nulls = spec
                    .validation
                    .not_null
                    .iter()
                    .map(|c| rows.count(&format!("{c}_nulls"), row))
                    .collect::<Result<Vec<_>, Error>>()?;
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
                let (unchanged, changed, added, removed) =
                    (get("unchanged")?, get("changed")?, get("added")?, get("removed")?);
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
    rows.date(key, row)?.ok_or_else(|| Error::Corrupt {
        path: "reconciliation result".into(),
        message: format!("a NULL `{key}` in a per-partition row"),
    })
}
