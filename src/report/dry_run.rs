//! The report of a dry run: the same [`Report`] a run gets, filled from what the dry run
//! evaluated in memory, plus what only a dry run has ([`DryRunSummary`]).

use chrono::NaiveDate;
use serde::Serialize;

use super::Report;
use crate::plan::{Estimate, Plan};
use crate::reconcile::dry_run::{Coverage, DryRun};

/// What only a dry run's report has: what was evaluated and how sure the figures are.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunSummary {
    /// The whole range (figures exact) or a sample of it (figures estimated, each metric
    /// with a 95 % interval).
    pub coverage: Coverage,
    /// Estimated scan of the whole range (source footers plus base files), bytes.
    pub estimated_bytes: u64,
    /// `--dry-run-budget`, bytes.
    pub budget: u64,
    /// The partitions evaluated, ascending.
    pub evaluated: Vec<NaiveDate>,
    /// False when two evaluations of the same partitions gave different rows.
    pub deterministic: bool,
    /// The estimated work of the full run: source files, rows and bytes read.
    pub estimate: Estimate,
}

/// The report of the dry run `dry` of `plan` (whose rendered plan has `fingerprint`).
///
/// No batch is done (`batches_done` 0, no per-batch metrics); `complete` says whether the
/// figures cover the whole range (true) or a sample (false); gates and metrics are the
/// dry run's own (a sample's may be UNCERTAIN).
pub fn from_dry_run(plan: &Plan, fingerprint: &str, dry: DryRun) -> Report {
    let mut report = Report::frame(plan, fingerprint);
    let r = dry.reconciliation;
    report.set_partitions(plan, r.partitions);
    report.complete = dry.coverage == Coverage::WholeRange;
    report.gates = dry.gates;
    report.metrics = dry.metrics;
    report.top_changes = r.top_changes;
    report.unchanged_sample = r.unchanged_sample;
    report.added_sample = r.added_sample;
    report.removed_sample = r.removed_sample;
    report.dry_run = Some(DryRunSummary {
        coverage: dry.coverage,
        estimated_bytes: dry.estimated_bytes,
        budget: dry.budget,
        evaluated: dry.evaluated,
        deterministic: dry.deterministic,
        estimate: plan.estimate(),
    });
    report
}
