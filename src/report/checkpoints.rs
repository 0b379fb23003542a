//! The report of a run, from its batch checkpoints and its whole-range record alone.

use super::tables::{first_rows, merge_top_changes};
use super::{BatchMetrics, MetricTotal, Report};
use crate::plan::Plan;
use crate::reconcile::{Checkpoint, Gate, GateKind, PartitionResult, RangeReconciliation, Reconciliation, Table};
use crate::state::BatchState;

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
    let partitions: Vec<PartitionResult> =
        reconciled.iter().flat_map(|c| c.outcome.reconciliation.partitions.iter().cloned()).collect();
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

    let mut report = Report::frame(plan, fingerprint);
    report.set_partitions(plan, partitions);
    report.batches_done = done.len() as u32;
    report.batches_failed = current
        .iter()
        .filter(|c| c.state == BatchState::Failed)
        .map(|c| (c.batch, c.reason.clone().unwrap_or_default()))
        .collect();
    report.complete = complete;
    report.gates = gate_list;
    report.metrics = metrics;
    report.metrics_pending = metrics_pending;
    report.batch_metrics = batch_metrics;
    report.top_changes = top_changes;
    report.unchanged_sample = unchanged_sample;
    report.added_sample = added_sample;
    report.removed_sample = removed_sample;
    report
}
