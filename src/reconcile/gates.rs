//! Gates: reconciliation checks with a tolerance (DESIGN.md, vocabulary). A failed gate
//! marks its batch failed and stops the run (exit 1); everything written stays for
//! inspection, and a rerun after the spec is fixed goes on.
//!
//! Per batch ([`check_batch`]): `row_count_tolerance` (per partition), `unique_keys`,
//! `not_null`, schema equality, and each metric's optional `batch_expected_delta` on
//! the batch's own aggregate. Once every batch is done ([`range_gates`]): each metric's
//! `expected_delta` on the whole range. No verdict depends on other batches, so none
//! depends on the order batches finish in.

use serde::{Deserialize, Serialize};

pub use super::gate_kind::GateKind;
use super::{MetricPair, PartitionResult, Reconciliation};
use crate::number::{or_null, percent};
use crate::spec::{DeltaRange, Spec, Tolerance};

/// What a gate says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within tolerance.
    Pass,
    /// Outside tolerance: the run stops, publish refuses.
    Fail,
    /// Only from a dry run's sample: the estimate's interval straddles a bound, so the
    /// sample cannot tell.
    Uncertain,
}

impl Verdict {
    /// `pass`, `FAIL` or `UNCERTAIN`, as printed.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Uncertain => "UNCERTAIN",
        }
    }
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// Which gate.
    pub name: GateKind,
    /// What it says.
    pub verdict: Verdict,
    /// What was measured, and on failure by how much it missed.
    pub detail: String,
}

impl Gate {
    /// A gate that passed when `ok`, else failed.
    pub fn new(name: GateKind, ok: bool, detail: impl Into<String>) -> Self {
        Self { name, verdict: if ok { Verdict::Pass } else { Verdict::Fail }, detail: detail.into() }
    }

    /// Whether it passed.
    pub fn passed(&self) -> bool {
        self.verdict == Verdict::Pass
    }
}

/// A partition whose own metric delta lies far outside the expected range: further out
/// than the range is wide (at least one percentage point). Reported, not a gate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outlier {
    /// The partition.
    pub partition: chrono::NaiveDate,
    /// The metric.
    pub metric: String,
    /// Its delta in percent (`None` when the base had 0).
    pub percent: Option<f64>,
    /// Old and new, over this partition alone.
    pub pair: MetricPair,
}

/// Check every gate of one batch (or of a dry run's evaluated partitions, taken as one
/// batch). `scope` names what the batch-level metric gates cover, e.g. `batch 3`.
pub fn check_batch(spec: &Spec, r: &Reconciliation, scope: &str) -> Vec<Gate> {
    let v = &spec.validation;
    let mut gates = vec![row_count_gate(&r.partitions, v.row_count_tolerance)];
    if v.unique_keys {
        let copies = r.duplicate_keys.rows.len();
        gates.push(Gate::new(
            GateKind::UniqueKeys,
            copies == 0,
            match r.duplicate_keys.rows.first() {
                None => "every (partition key, keys) occurs once in the shadow".into(),
                Some(row) => format!(
                    "{copies} key(s) occur more than once in the shadow, e.g. ({}) {} times",
                    row[..row.len() - 1].join(", "),
                    row[row.len() - 1]
                ),
            },
        ));
    }
    if !v.not_null.is_empty() {
        let bad: Vec<String> = v
            .not_null
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n: u64 = r.partitions.iter().map(|p| p.nulls.get(i).copied().unwrap_or(0)).sum();
                (n > 0).then(|| format!("{c}: {} NULL(s)", crate::number::count(n)))
            })
            .collect();
        gates.push(Gate::new(
            GateKind::NotNull,
            bad.is_empty(),
            if bad.is_empty() { format!("no NULLs in {}", v.not_null.join(", ")) } else { bad.join("; ") },
        ));
    }
    gates.push(Gate::new(
        GateKind::Schema,
        r.schema_differences.is_empty(),
        if r.schema_differences.is_empty() {
            "the shadow's columns and types equal the base's".into()
        } else {
            r.schema_differences.join("; ")
        },
    ));
    for (m, pair) in spec.validation.metrics.iter().zip(&r.batch_metrics) {
        if let Some(expected) = m.batch_expected_delta {
            gates.push(delta_gate(
                GateKind::BatchExpectedDelta(m.name.clone()),
                &m.name,
                pair,
                expected,
                scope,
                r.partitions.len() as u64,
            ));
        }
    }
    gates
}

/// The `expected_delta` gate of each metric that has one, on its whole-range values
/// (`metrics`, in spec order, over `partitions` partitions).
pub fn range_gates(spec: &Spec, metrics: &[MetricPair], partitions: u64) -> Vec<Gate> {
    spec.validation
        .metrics
        .iter()
        .zip(metrics)
        .filter_map(|(m, pair)| {
            Some(delta_gate(
                GateKind::ExpectedDelta(m.name.clone()),
                &m.name,
                pair,
                m.expected_delta?,
                "whole range",
                partitions,
            ))
        })
        .collect()
}

/// One delta gate: `pair`'s change in percent against `expected`.
fn delta_gate(
    name: GateKind,
    metric: &str,
    pair: &MetricPair,
    expected: DeltaRange,
    scope: &str,
    partitions: u64,
) -> Gate {
    match pair.percent() {
        None => Gate::new(
            name,
            false,
            format!(
                "{scope} {metric} cannot be compared: the base value is 0 or NULL ({} → {})",
                or_null(pair.old.as_ref()),
                or_null(pair.new.as_ref())
            ),
        ),
        Some(pct) => {
            let off = expected.distance(pct);
            let head = format!(
                "{scope} {metric} {} → {} ({}) over {} partitions; expected {expected}",
                or_null(pair.old.as_ref()),
                or_null(pair.new.as_ref()),
                percent(Some(pct)),
                crate::number::count(partitions)
            );
            if off == 0.0 {
                Gate::new(name, true, format!("{head}: inside"))
            } else {
                Gate::new(name, false, format!("{head}: outside by {off:.2} percentage points"))
            }
        }
    }
}

/// Partitions whose own delta lies far outside each metric's expected range.
pub fn outliers(spec: &Spec, partitions: &[PartitionResult]) -> Vec<Outlier> {
    let mut out = Vec::new();
    for (i, m) in spec.validation.metrics.iter().enumerate() {
        let Some(expected) = m.expected_delta else { continue };
        let margin = (expected.high - expected.low).max(1.0);
        for p in partitions {
            let pair = p.metrics.get(i).cloned().unwrap_or_default();
            let far = match pair.percent() {
                Some(pct) => expected.distance(pct) > margin,
                None => pair.old != pair.new,
            };
            if far {
                out.push(Outlier { partition: p.partition, metric: m.name.clone(), percent: pair.percent(), pair });
            }
        }
    }
    out
}

/// The `row_count_tolerance` gate: every partition's row count moved within tolerance.
pub fn row_count_gate(partitions: &[PartitionResult], tolerance: Tolerance) -> Gate {
    let name = GateKind::RowCount;
    let miss = partitions.iter().find_map(|p| {
        let moved = p.base_rows.abs_diff(p.shadow_rows);
        let allowed = match tolerance {
            Tolerance::Rows(n) => n as f64,
            Tolerance::Percent(pct) => p.base_rows as f64 * pct / 100.0,
        };
        (moved as f64 > allowed).then(|| {
            format!(
                "partition {} has {} rows in the base and {} in the shadow: {moved} moved, {tolerance} allowed",
                p.partition, p.base_rows, p.shadow_rows
            )
        })
    });
    match miss {
        Some(detail) => Gate::new(name, false, detail),
        None => Gate::new(
            name,
            true,
            format!("{} partitions within {tolerance}", crate::number::count(partitions.len() as u64)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DeltaRange;

    #[test]
    fn distance_outside_a_range() {
        let r = DeltaRange { low: -1.5, high: -0.8 };
        assert_eq!(r.distance(-1.0), 0.0);
        assert!((r.distance(-0.3) - 0.5).abs() < 1e-9);
        assert!((r.distance(-2.0) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn row_counts_within_percent() {
        let p = |b, s| PartitionResult { base_rows: b, shadow_rows: s, ..Default::default() };
        assert!(row_count_gate(&[p(1000, 996)], Tolerance::Percent(0.5)).passed());
        assert!(!row_count_gate(&[p(1000, 990)], Tolerance::Percent(0.5)).passed());
        assert!(!row_count_gate(&[p(10, 9)], Tolerance::Rows(0)).passed());
    }
}
