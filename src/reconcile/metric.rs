//! One metric's figures, as the report and the dry run both show them: old → new, the
//! exact delta, the change in percent against the expected range, and the verdict of its
//! `expected_delta` gate.

use serde::Serialize;

use super::{GateKind, MetricPair, RangeReconciliation, Verdict};
use crate::number::Number;
use crate::spec::{DeltaRange, Metric, Spec};

/// A metric over the whole range (one query over every base and every shadow row in
/// range: the report, and the dry run under its budget), or estimated from a sample of
/// partitions (the dry run over its budget, with an interval).
#[derive(Debug, Clone, Serialize)]
pub struct MetricTotal {
    /// Metric name.
    pub name: String,
    /// Its SQL expression.
    pub sql: String,
    /// The base's value (exact for decimals and integers).
    pub old: Option<Number>,
    /// The shadow's (or the recomputed rows') value.
    pub new: Option<Number>,
    /// new − old, exact when both are.
    pub delta: Option<Number>,
    /// (new − old) / |old| × 100.
    pub percent: Option<f64>,
    /// With a dry run's sample: the 95 % bootstrap interval of `percent`, `[low, high]`.
    pub interval: Option<[f64; 2]>,
    /// The spec's expected range.
    pub expected: Option<DeltaRange>,
    /// Whether `percent` lies in it (`None` without a range or a percent).
    pub within: Option<bool>,
    /// The verdict of its `expected_delta` gate, if it has one (a sample's may be
    /// UNCERTAIN).
    pub verdict: Option<Verdict>,
}

impl MetricTotal {
    /// Metric `m` measured as `pair`, with a sample's `interval` and its gate's `verdict`.
    pub fn new(m: &Metric, pair: MetricPair, interval: Option<[f64; 2]>, verdict: Option<Verdict>) -> Self {
        let percent = pair.percent();
        MetricTotal {
            name: m.name.clone(),
            sql: m.sql.clone(),
            delta: pair.delta(),
            old: pair.old,
            new: pair.new,
            percent,
            interval,
            expected: m.expected_delta,
            within: m.expected_delta.zip(percent).map(|(e, p)| e.contains(p)),
            verdict,
        }
    }

    /// Each of the spec's metrics over the whole range, from its whole-range record, with
    /// the verdict of its `expected_delta` gate there.
    pub fn over_range(spec: &Spec, range: &RangeReconciliation) -> Vec<Self> {
        spec.validation
            .metrics
            .iter()
            .zip(&range.metrics)
            .map(|(m, pair)| {
                let gate = GateKind::ExpectedDelta(m.name.clone());
                let verdict = range.gates.iter().find(|g| g.name == gate).map(|g| g.verdict);
                MetricTotal::new(m, pair.clone(), None, verdict)
            })
            .collect()
    }
}
