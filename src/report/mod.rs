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

pub mod html;
pub mod markdown;
mod tables;
pub mod templates;

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
use tables::{first_rows, merge_top_changes};

use chrono::NaiveDate;
use serde::Serialize;

use crate::plan::Plan;
use crate::reconcile::gates::{self, GateKind, Outlier};
use crate::reconcile::{Checkpoint, Table};
use crate::reconcile::{Gate, MetricPair, PartitionResult, RangeReconciliation, Reconciliation, RowClasses};
use crate::state::BatchState;

/// Version of the JSON report's shape; bumped on incompatible changes. 2: exact metric
/// values (decimal strings), whole-range metrics from `range.json`, gate verdicts,
/// per-batch metrics, value comparison rules.
pub const SCHEMA_VERSION: u32 = 2;

/// The report of one backfill.
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

/// Build the report of `plan` from its checkpoints (those under `fingerprint` count) and
/// its whole-range record, if one was computed under `fingerprint` after them.
pub fn build(
    plan: &Plan,
    fingerprint: &str,
    checkpoints: &[Checkpoint],
    range: Option<&RangeReconciliation>,
) -> Report {
    let spec = &plan.spec;
    let current: Vec<&Checkpoint> = checkpoints.iter().filter(|c| c.fingerprint == fingerprint).collect();
    let done: Vec<&Checkpoint> = current.iter().copied().filter(|c| c.state == BatchState::Done).collect();
    let reconciled: Vec<&Checkpoint> = current.clone();
    let mut partitions: Vec<PartitionResult> =
        reconciled.iter().flat_map(|c| c.outcome.reconciliation.partitions.iter().cloned()).collect();
    partitions.sort_by_key(|p| p.partition);
    let rows = RowClasses::of(&partitions);
    let complete = done.len() == plan.batches.len();
    let last_batch = done.iter().map(|c| c.finished_at).max();
    let range = range.filter(|r| complete && r.covers(fingerprint, last_batch));

    // One line per gate name: failed if any batch failed it (the first failure named).
    let mut gate_list: Vec<Gate> = Vec::new();
    for c in &reconciled {
        for g in &c.outcome.gates {
            let named = |g: &Gate| Gate { detail: format!("batch {}: {}", c.batch, g.detail), ..g.clone() };
            match gate_list.iter_mut().find(|x| x.name == g.name) {
                None => gate_list.push(if g.passed() { g.clone() } else { named(g) }),
                Some(x) if x.passed() && !g.passed() => *x = named(g),
                Some(_) => {}
            }
        }
    }
    for g in gate_list.iter_mut().filter(|g| g.passed()) {
        match &g.name {
            GateKind::RowCount => {
                g.detail = format!(
                    "{} partitions within {}",
                    crate::number::count(partitions.len() as u64),
                    spec.validation.row_count_tolerance
                )
            }
            GateKind::BatchExpectedDelta(metric) => {
                if let Some(e) =
                    spec.validation.metrics.iter().find(|m| &m.name == metric).and_then(|m| m.batch_expected_delta)
                {
                    g.detail = format!("each of {} batches: {metric} inside {e}", reconciled.len());
                }
            }
            _ => {}
        }
    }
    if let Some(r) = range {
        gate_list.extend(r.gates.iter().cloned());
    }

    let metrics = range.map_or_else(Vec::new, |r| MetricTotal::over_range(spec, r));
    let metrics_pending = match (range, complete) {
        (Some(_), _) => None,
        (None, false) => Some(format!(
            "computed when the last batch is done ({} of {} batches done)",
            done.len(),
            plan.batches.len()
        )),
        (None, true) => {
            Some("every batch is done but the whole range was not computed: rerun `backfill run SPEC --execute`".into())
        }
    };
    let batch_metrics = reconciled
        .iter()
        .filter(|c| !c.partitions.is_empty())
        .map(|c| BatchMetrics {
            batch: c.batch,
            first: c.partitions[0],
            last: c.partitions[c.partitions.len() - 1],
            metrics: c.outcome.reconciliation.batch_metrics.clone(),
        })
        .collect();

    let limit = spec.validation.sample_rows as usize;
    let top_changes = merge_top_changes(
        reconciled.iter().map(|c| &c.outcome.reconciliation.top_changes),
        crate::render::order_column(plan).as_deref(),
        limit,
    );
    let sample = |pick: fn(&Reconciliation) -> &Table| {
        first_rows(reconciled.iter().map(|c| pick(&c.outcome.reconciliation)), limit)
    };
    let unchanged_sample = sample(|r| &r.unchanged_sample);
    let added_sample = sample(|r| &r.added_sample);
    let removed_sample = sample(|r| &r.removed_sample);

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
        batches_done: done.len() as u32,
        batches_failed: current
            .iter()
            .filter(|c| c.state == BatchState::Failed)
            .map(|c| (c.batch, c.reason.clone().unwrap_or_default()))
            .collect(),
        complete,
        gates: gate_list,
        metric_definitions: spec.validation.metrics.clone(),
        metrics,
        metrics_pending,
        batch_metrics,
        comparisons: comparisons(plan),
        rows,
        outliers: gates::outliers(spec, &partitions),
        top_changes,
        unchanged_sample,
        added_sample,
        removed_sample,
        skipped: Skipped {
            excluded: spec.source_range.exclude.iter().copied().collect(),
            without_source: plan.without_source.clone(),
        },
        downstream: plan.downstream.iter().map(|d| d.to_string()).collect(),
        partitions,
    }
}
