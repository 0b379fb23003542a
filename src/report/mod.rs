//! Stage 6: the reconciliation report, for finance reviewers. Built from the batch
//! checkpoints alone (nothing is recomputed) and rendered as Markdown for a pull request
//! or ticket ([`markdown`]), JSON for machines (serde, with [`SCHEMA_VERSION`]), or one
//! self-contained HTML page with SVG charts ([`html`]).

pub mod html;
pub mod markdown;

use chrono::NaiveDate;
use serde::Serialize;

use crate::execute::state::{BatchState, Checkpoint};
use crate::execute::Table;
use crate::plan::Plan;
use crate::reconcile::gates::{self, Outlier};
use crate::reconcile::{Gate, PartitionResult, Reconciliation, RowClasses, Totals};
use crate::spec::DeltaRange;

/// Version of the JSON report's shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

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
    /// Each gate over all batches, then the metric gates over everything reconciled.
    pub gates: Vec<Gate>,
    /// Each metric's totals over everything reconciled.
    pub metrics: Vec<MetricTotal>,
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

/// A metric's totals.
#[derive(Debug, Clone, Serialize)]
pub struct MetricTotal {
    /// Metric name.
    pub name: String,
    /// Sum over the base's reconciled partitions.
    pub old: Option<f64>,
    /// Sum over the shadow's.
    pub new: Option<f64>,
    /// new − old.
    pub delta: Option<f64>,
    /// (new − old) / |old| × 100.
    pub percent: Option<f64>,
    /// The spec's expected range.
    pub expected: Option<DeltaRange>,
    /// Whether `percent` lies in it (`None` without a range or a percent).
    pub within: Option<bool>,
}

/// Build the report of `plan` from its checkpoints (those under its fingerprint count).
pub fn build(plan: &Plan, fingerprint: &str, checkpoints: &[Checkpoint]) -> Report {
    let spec = &plan.spec;
    let current: Vec<&Checkpoint> = checkpoints.iter().filter(|c| c.fingerprint == fingerprint).collect();
    let done: Vec<&Checkpoint> = current.iter().copied().filter(|c| c.state == BatchState::Done).collect();
    let reconciled: Vec<&Checkpoint> = current.clone();
    let mut partitions: Vec<PartitionResult> = reconciled.iter().flat_map(|c| c.reconciliation.partitions.iter().cloned()).collect();
    partitions.sort_by_key(|p| p.partition);
    let mut totals = Totals::default();
    for p in &partitions {
        totals.add_partition(p);
    }
    let rows = RowClasses::of(&partitions);
    let complete = done.len() == plan.batches.len();

    // One line per gate name: failed if any batch failed it (the first failure named).
    let mut gate_list: Vec<Gate> = Vec::new();
    for c in &reconciled {
        for g in c.gates.iter().filter(|g| !g.name.starts_with("expected_delta:")) {
            match gate_list.iter_mut().find(|x| x.name == g.name) {
                None => gate_list.push(Gate { detail: if g.passed { g.detail.clone() } else { format!("batch {}: {}", c.batch, g.detail) }, ..g.clone() }),
                Some(x) if x.passed && !g.passed => *x = Gate { detail: format!("batch {}: {}", c.batch, g.detail), ..g.clone() },
                Some(_) => {}
            }
        }
    }
    for g in gate_list.iter_mut().filter(|g| g.passed && g.name == "row_count_tolerance") {
        g.detail = format!("{} partitions within {}", partitions.len(), spec.validation.row_count_tolerance);
    }
    // A cumulative metric gate that failed in some batch stays named, with that batch.
    for c in &reconciled {
        for g in c.gates.iter().filter(|g| g.name.starts_with("expected_delta:") && !g.passed) {
            if !gate_list.iter().any(|x| x.name == g.name) {
                gate_list.push(Gate { detail: format!("batch {}: {}", c.batch, g.detail), ..g.clone() });
            }
        }
    }
    let scope = if complete { "whole range" } else { "reconciled so far" };
    for g in gates::metric_gates(spec, &totals, scope) {
        match gate_list.iter_mut().find(|x| x.name == g.name) {
            Some(x) => x.detail = format!("{}; {}", x.detail, g.detail),
            None => gate_list.push(g),
        }
    }

    let metrics = spec
        .validation
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let pair = totals.metrics.get(i).copied().unwrap_or_default();
            let percent = pair.percent();
            MetricTotal {
                name: m.name.clone(),
                old: pair.old,
                new: pair.new,
                delta: pair.old.zip(pair.new).map(|(o, n)| n - o),
                percent,
                expected: m.expected_delta,
                within: m.expected_delta.zip(percent).map(|(e, p)| e.contains(p)),
            }
        })
        .collect();

    let limit = spec.validation.sample_rows as usize;
    let top_changes = merge_top_changes(reconciled.iter().map(|c| &c.reconciliation.top_changes), crate::render::order_column(plan).as_deref(), limit);
    let sample = |pick: fn(&Reconciliation) -> &Table| first_rows(reconciled.iter().map(|c| pick(&c.reconciliation)), limit);
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
        batches_failed: current.iter().filter(|c| c.state == BatchState::Failed).map(|c| (c.batch, c.reason.clone().unwrap_or_default())).collect(),
        complete,
        gates: gate_list,
        metrics,
        rows,
        outliers: gates::outliers(spec, &partitions),
        top_changes,
        unchanged_sample,
        added_sample,
        removed_sample,
        skipped: Skipped { excluded: spec.source_range.exclude.iter().copied().collect(), without_source: plan.without_source.clone() },
        downstream: plan.downstream.iter().map(|d| d.to_string()).collect(),
        partitions,
    }
}

/// The `limit` largest changes of several batches' top-change tables, by
/// |shadow_<order> − base_<order>|, largest first.
fn merge_top_changes<'a>(tables: impl Iterator<Item = &'a Table>, order: Option<&str>, limit: usize) -> Table {
    let mut out = Table::default();
    for t in tables {
        if out.columns.is_empty() {
            out.columns = t.columns.clone();
        }
        out.rows.extend(t.rows.iter().cloned());
    }
    if let Some(order) = order {
        let (b, s) = (format!("base_{order}"), format!("shadow_{order}"));
        let pos = |name: &str| out.columns.iter().position(|c| c == name);
        if let (Some(b), Some(s)) = (pos(&b), pos(&s)) {
            let size = |row: &Vec<String>| match (row[b].parse::<f64>(), row[s].parse::<f64>()) {
                (Ok(x), Ok(y)) => (y - x).abs(),
                _ => f64::INFINITY,
            };
            out.rows.sort_by(|x, y| size(y).total_cmp(&size(x)));
        }
    }
    out.rows.truncate(limit);
    out
}

/// The first `limit` rows of `tables`, in order, under the first table's columns.
fn first_rows<'a>(tables: impl Iterator<Item = &'a Table>, limit: usize) -> Table {
    let mut out = Table::default();
    for t in tables {
        if out.columns.is_empty() {
            out.columns = t.columns.clone();
        }
        out.rows.extend(t.rows.iter().take(limit.saturating_sub(out.rows.len())).cloned());
    }
    out
}
