//! Gates: reconciliation checks with a tolerance (DESIGN.md, vocabulary). A failed gate
//! marks its batch failed and stops the run (exit 1); everything written stays for
//! inspection, and a rerun after the spec is fixed goes on.
//!
//! Per batch: `row_count_tolerance` (per partition), `unique_keys`, `not_null`, schema
//! equality, and each metric's `expected_delta` on the cumulative total of every batch
//! done so far. At the end the metric gates are checked once more over the whole range.

use serde::{Deserialize, Serialize};

use super::{MetricPair, PartitionResult, Reconciliation};
use crate::spec::{Spec, Tolerance};

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// The spec field behind it: `row_count_tolerance`, `unique_keys`, `not_null`,
    /// `schema`, or `expected_delta:<metric>`.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured, and on failure by how much it missed.
    pub detail: String,
}

/// Running totals of each metric, old and new, in spec order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Partitions added so far.
    pub partitions: u64,
    /// Summed metrics; a side is `None` until some partition had a value.
    pub metrics: Vec<MetricPair>,
}

impl Totals {
    /// Add every partition of `r`.
    pub fn add(&mut self, r: &Reconciliation) {
        for p in &r.partitions {
            self.add_partition(p);
        }
    }

    /// Add one partition.
    pub fn add_partition(&mut self, p: &PartitionResult) {
        self.partitions += 1;
        if self.metrics.len() < p.metrics.len() {
            self.metrics.resize(p.metrics.len(), MetricPair::default());
        }
        for (t, m) in self.metrics.iter_mut().zip(&p.metrics) {
            if let Some(v) = m.old {
                t.old = Some(t.old.unwrap_or(0.0) + v);
            }
            if let Some(v) = m.new {
                t.new = Some(t.new.unwrap_or(0.0) + v);
            }
        }
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
    /// Old and new.
    pub pair: MetricPair,
}

/// Check every gate of one batch. `cumulative` already includes this batch.
pub fn check_batch(spec: &Spec, r: &Reconciliation, cumulative: &Totals, scope: &str) -> Vec<Gate> {
    let v = &spec.validation;
    let mut gates = vec![row_count_gate(&r.partitions, v.row_count_tolerance)];
    if v.unique_keys {
        let copies = r.duplicate_keys.rows.len();
        gates.push(Gate {
            name: "unique_keys".into(),
            passed: copies == 0,
            detail: match r.duplicate_keys.rows.first() {
                None => "every (partition key, keys) occurs once in the shadow".into(),
                Some(row) => format!("{copies} key(s) occur more than once in the shadow, e.g. ({}) {} times", row[..row.len() - 1].join(", "), row[row.len() - 1]),
            },
        });
    }
    if !v.not_null.is_empty() {
        let bad: Vec<String> = v
            .not_null
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let n: u64 = r.partitions.iter().map(|p| p.nulls.get(i).copied().unwrap_or(0)).sum();
                (n > 0).then(|| format!("{c}: {n} NULL(s)"))
            })
            .collect();
        gates.push(Gate {
            name: "not_null".into(),
            passed: bad.is_empty(),
            detail: if bad.is_empty() { format!("no NULLs in {}", v.not_null.join(", ")) } else { bad.join("; ") },
        });
    }
    gates.push(Gate {
        name: "schema".into(),
        passed: r.schema_differences.is_empty(),
        detail: if r.schema_differences.is_empty() { "the shadow's columns and types equal the base's".into() } else { r.schema_differences.join("; ") },
    });
    gates.extend(metric_gates(spec, cumulative, scope));
    gates
}

/// The `expected_delta` gate of each metric that has one, on `totals`; `scope` says what
/// the totals cover ("cumulative", "whole range").
pub fn metric_gates(spec: &Spec, totals: &Totals, scope: &str) -> Vec<Gate> {
    let mut gates = Vec::new();
    for (i, m) in spec.validation.metrics.iter().enumerate() {
        let Some(expected) = m.expected_delta else { continue };
        let pair = totals.metrics.get(i).copied().unwrap_or_default();
        let name = format!("expected_delta:{}", m.name);
        let gate = match pair.percent() {
            None => Gate { name, passed: false, detail: format!("{scope} {} cannot be compared: the base total is 0 or missing", m.name) },
            Some(pct) => {
                let off = expected.distance(pct);
                let head = format!("{scope} {} {} → {} ({pct:+.3}%) over {} partitions; expected {expected}", m.name, fmt_num(pair.old), fmt_num(pair.new), totals.partitions);
                if off == 0.0 {
                    Gate { name, passed: true, detail: format!("{head}: inside") }
                } else {
                    Gate { name, passed: false, detail: format!("{head}: outside by {off:.3} percentage points") }
                }
            }
        };
        gates.push(gate);
    }
    gates
}

/// Partitions whose own delta lies far outside each metric's expected range.
pub fn outliers(spec: &Spec, partitions: &[PartitionResult]) -> Vec<Outlier> {
    let mut out = Vec::new();
    for (i, m) in spec.validation.metrics.iter().enumerate() {
        let Some(expected) = m.expected_delta else { continue };
        let margin = (expected.high - expected.low).max(1.0);
        for p in partitions {
            let pair = p.metrics.get(i).copied().unwrap_or_default();
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
    let name = "row_count_tolerance".to_string();
    let miss = partitions.iter().find_map(|p| {
        let moved = p.base_rows.abs_diff(p.shadow_rows);
        let allowed = match tolerance {
            Tolerance::Rows(n) => n as f64,
            Tolerance::Percent(pct) => p.base_rows as f64 * pct / 100.0,
        };
        (moved as f64 > allowed).then(|| format!("partition {} has {} rows in the base and {} in the shadow: {moved} moved, {tolerance} allowed", p.partition, p.base_rows, p.shadow_rows))
    });
    match miss {
        Some(detail) => Gate { name, passed: false, detail },
        None => Gate { name, passed: true, detail: format!("{} partitions within {tolerance}", partitions.len()) },
    }
}

/// A percent change with sign and three decimals (`-1.078%`), or `n/a`.
pub fn fmt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |p| format!("{p:+.3}%"))
}

/// A metric total with two decimals, or `NULL`.
pub fn fmt_num(v: Option<f64>) -> String {
    v.map_or_else(|| "NULL".into(), |v| format!("{v:.2}"))
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
        assert!(row_count_gate(&[p(1000, 996)], Tolerance::Percent(0.5)).passed);
        assert!(!row_count_gate(&[p(1000, 990)], Tolerance::Percent(0.5)).passed);
        assert!(!row_count_gate(&[p(10, 9)], Tolerance::Rows(0)).passed);
    }
}
