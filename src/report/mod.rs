//! Stage 6: the reconciliation report, for finance reviewers. Built from the batch
//! checkpoints and the whole-range record (`range.json`) alone — nothing is recomputed —
//! and rendered as Markdown for a pull request or ticket ([`markdown`]), JSON for
//! machines (serde, with [`SCHEMA_VERSION`]; every digit kept), or one self-contained
//! HTML page with SVG charts ([`html`]). Markdown and HTML come from the templates under
//! `templates/report/`, embedded in the binary ([`templates`]), given this one model.
//!
//! Whole-range metric figures come only from `range.json`: one query over the whole
//! range, never a sum of per-batch or per-partition values. Per-batch and per-partition
//! values are shown too, labelled as such.

mod checkpoints;
pub mod dry_run;
pub mod html;
pub mod markdown;
mod tables;
pub mod templates;

pub use checkpoints::build;
pub use dry_run::{from_dry_run, DryRunSummary};

pub use crate::reconcile::MetricTotal;
pub use tables::comparisons;

/// Dates as a comma-separated list, or `none`.
pub fn date_list(dates: &[NaiveDate]) -> String {
    if dates.is_empty() {
        "none".to_string()
    } else {
        dates.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

use chrono::NaiveDate;
use serde::Serialize;

use crate::plan::Plan;
use crate::reconcile::gates::{self, Outlier};
use crate::reconcile::Table;
use crate::reconcile::{Gate, MetricPair, PartitionResult, RowClasses};

/// Version of the JSON report's shape; bumped on incompatible changes. 2: exact metric
/// values (decimal strings), whole-range metrics from `range.json`, gate verdicts,
/// per-batch metrics, value comparison rules.
pub const SCHEMA_VERSION: u32 = 2;

/// The report of one backfill: of its run (built from the checkpoints, [`build`]) or of
/// its dry run ([`from_dry_run`]). One model, rendered as text, JSON, Markdown and HTML.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The spec's `backfill_id`.
    pub backfill_id: String,
    /// The spec's owner.
    pub owner: String,
    /// Ticket, one-line change and kind (`recompute` / `reinterpretation`).
    pub reason: crate::spec::Reason,
    /// What is corrected.
    pub scope: Scope,
    /// The plan fingerprint the checkpoints ran under.
    pub fingerprint: String,
    /// Batches in the plan.
    pub batches: u32,
    /// Batches done and passed.
    pub batches_done: u32,
    /// Failed batches and why.
    pub batches_failed: Vec<(u32, String)>,
    /// True when every batch is done: the figures cover the whole range.
    pub complete: bool,
    /// Each gate over all batches, then the whole-range `expected_delta` gates.
    pub gates: Vec<Gate>,
    /// The spec's metrics, in spec order (names and expected ranges, for the charts).
    pub metric_definitions: Vec<crate::spec::Metric>,
    /// Each metric over the whole range (one query over every base and every shadow row
    /// in range); empty until the last batch is done, see `metrics_pending`.
    pub metrics: Vec<MetricTotal>,
    /// Why `metrics` is empty, when it is.
    pub metrics_pending: Option<String>,
    /// Each batch's own metric values (one aggregate over the batch's rows).
    pub batch_metrics: Vec<BatchMetrics>,
    /// How each compared column's values are compared (exactly, or within a tolerance).
    pub comparisons: Vec<String>,
    /// Rows by class over everything reconciled: unchanged, changed, added, removed.
    pub rows: RowClasses,
    /// Partitions whose own delta lies far outside the expected range.
    pub outliers: Vec<Outlier>,
    /// The largest changes over all batches (at most `sample_rows`).
    pub top_changes: Table,
    /// Rows left as they were (at most `sample_rows`).
    pub unchanged_sample: Table,
    /// Rows only in the shadow: the first `sample_rows` over the batches, in batch order.
    pub added_sample: Table,
    /// Rows only in the base: the first `sample_rows` over the batches, in batch order.
    pub removed_sample: Table,
    /// Partitions of the range left alone: excluded, or without source data.
    pub skipped: Skipped,
    /// Downstream dependents (catalog views and declared).
    pub downstream: Vec<String>,
    /// Every reconciled partition, ascending (the charts' data).
    pub partitions: Vec<PartitionResult>,
    /// For a dry run's report: what was evaluated and how sure its figures are; `None`
    /// for the report of a run.
    pub dry_run: Option<DryRunSummary>,
}

impl Report {
    /// The report of `plan` under `fingerprint` before any figure is in: the scope, the
    /// spec's metrics, skipped partitions and dependents; no batch done, no gate, no row.
    fn frame(plan: &Plan, fingerprint: &str) -> Report {
        let spec = &plan.spec;
        Report {
            schema_version: SCHEMA_VERSION,
            backfill_id: spec.backfill_id.clone(),
            owner: spec.owner.clone(),
            reason: spec.reason.clone(),
            scope: Scope {
                table: spec.target.table.to_string(),
                shadow: spec.target.shadow.to_string(),
                view: spec.target.view.to_string(),
                partition_key: spec.target.partition_key.clone(),
                start: spec.source_range.start,
                end: spec.source_range.end,
                partitions: plan.partitions.len(),
            },
            fingerprint: fingerprint.to_string(),
            batches: plan.batches.len() as u32,
            batches_done: 0,
            batches_failed: Vec::new(),
            complete: false,
            gates: Vec::new(),
            metric_definitions: spec.validation.metrics.clone(),
            metrics: Vec::new(),
            metrics_pending: None,
            batch_metrics: Vec::new(),
            comparisons: comparisons(plan),
            rows: RowClasses::default(),
            outliers: Vec::new(),
            top_changes: Table::default(),
            unchanged_sample: Table::default(),
            added_sample: Table::default(),
            removed_sample: Table::default(),
            skipped: Skipped {
                excluded: spec.source_range.exclude.iter().copied().collect(),
                without_source: plan.without_source.clone(),
            },
            downstream: plan.downstream.iter().map(|d| d.to_string()).collect(),
            partitions: Vec::new(),
            dry_run: None,
        }
    }

    /// Set the reconciled partitions (sorted here), their row classes and outliers.
    fn set_partitions(&mut self, plan: &Plan, mut partitions: Vec<PartitionResult>) {
        partitions.sort_by_key(|p| p.partition);
        self.rows = RowClasses::of(&partitions);
        self.outliers = gates::outliers(&plan.spec, &partitions);
        self.partitions = partitions;
    }
}

/// The corrected scope.
#[derive(Debug, Clone, Serialize)]
pub struct Scope {
    /// Base table.
    pub table: String,
    /// Shadow table.
    pub shadow: String,
    /// Consumer view.
    pub view: String,
    /// Partition key.
    pub partition_key: String,
    /// First partition, inclusive.
    pub start: NaiveDate,
    /// Last partition, inclusive.
    pub end: NaiveDate,
    /// Partitions to recompute.
    pub partitions: usize,
}

/// Partitions in range that are not recomputed.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Listed in `source_range.exclude`.
    pub excluded: Vec<NaiveDate>,
    /// No source table has the partition.
    pub without_source: Vec<NaiveDate>,
}

/// One batch's own metric values.
#[derive(Debug, Clone, Serialize)]
pub struct BatchMetrics {
    /// Batch number.
    pub batch: u32,
    /// Its first partition.
    pub first: NaiveDate,
    /// Its last partition.
    pub last: NaiveDate,
    /// Each metric over the batch's rows, in spec order.
    pub metrics: Vec<MetricPair>,
}
