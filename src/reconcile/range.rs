//! Whole-range reconciliation: each metric computed once over every base row and every
//! shadow row of the source range (the `reconcile_range` statement), when the last batch
//! is done. This is the figure a reviewer signs and `expected_delta` is checked on
//! (DESIGN.md, numbers): a metric over a range is computed over that range, never added
//! up from per-batch or per-partition values, so `avg`, `max`, `median` and
//! `count(DISTINCT …)` are as right as `sum`, and the result is the same whatever the
//! batching or the order batches finished in.

use chrono::{DateTime, Utc};
use datafusion::arrow::record_batch::RecordBatch;
use serde::{Deserialize, Serialize};

use super::read::Rows;
use super::{gates, Gate, MetricPair};
use crate::render::Step;
use crate::spec::Spec;
use crate::Error;

/// `_backfills/<id>/range.json`: the whole-range metrics and their gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeReconciliation {
    /// The plan fingerprint of the run it belongs to.
    pub fingerprint: String,
    /// When it was computed.
    pub computed_at: DateTime<Utc>,
    /// Partitions in the range (the plan's, exclusions left out).
    pub partitions: u64,
    /// Base rows in the range.
    pub base_rows: u64,
    /// Shadow rows in the range.
    pub shadow_rows: u64,
    /// Each `validation.metrics` entry over the whole range, in spec order.
    pub metrics: Vec<MetricPair>,
    /// `expected_delta:<metric>` of each metric that has one.
    pub gates: Vec<Gate>,
}

impl RangeReconciliation {
    /// Read the `reconcile_range` result (one `base` and one `shadow` row) and check the
    /// `expected_delta` gates on it.
    ///
    /// Errors: [`Error::MissingColumn`] for a column the result lacks; a metric value
    /// that is not a number; [`Error::Corrupt`] when a side's row is missing.
    pub fn from_result(
        spec: &Spec,
        batches: &[RecordBatch],
        fingerprint: &str,
        partitions: u64,
        now: DateTime<Utc>,
    ) -> Result<Self, Error> {
        let mut sides: [Option<(u64, Vec<Option<crate::number::Number>>)>; 2] = [None, None];
        for b in batches {
            let rows = Rows::new(Step::ReconcileRange, b);
            for row in 0..rows.len() {
                let side = match rows.text("side", row)?.as_deref() {
                    Some("base") => 0,
                    Some("shadow") => 1,
                    other => {
                        return Err(Error::Corrupt {
                            path: "the result of reconcile_range".into(),
                            message: format!("unexpected side {other:?}"),
                        })
                    }
                };
                let values = spec
                    .validation
                    .metrics
                    .iter()
                    .map(|m| rows.number(&m.name, row))
                    .collect::<Result<Vec<_>, Error>>()?;
                sides[side] = Some((rows.count("row_count", row)?, values));
            }
        }
        let [Some((base_rows, old)), Some((shadow_rows, new))] = sides else {
            return Err(Error::Corrupt {
                path: "the result of reconcile_range".into(),
                message: "it needs one `base` and one `shadow` row".into(),
            });
        };
        let metrics: Vec<MetricPair> = old.into_iter().zip(new).map(|(old, new)| MetricPair { old, new }).collect();
        let gates = gates::range_gates(spec, &metrics, partitions);
        Ok(Self {
            fingerprint: fingerprint.to_string(),
            computed_at: now,
            partitions,
            base_rows,
            shadow_rows,
            metrics,
            gates,
        })
    }

    /// Whether this record speaks for the run under `fingerprint` whose last batch
    /// finished at `last_batch`: same plan, computed after that batch (a batch redone
    /// later makes it stale).
    pub fn covers(&self, fingerprint: &str, last_batch: Option<DateTime<Utc>>) -> bool {
        self.fingerprint == fingerprint && last_batch.is_none_or(|t| self.computed_at >= t)
    }

    /// The gates that did not pass.
    pub fn failed(&self) -> Vec<&Gate> {
        self.gates.iter().filter(|g| !g.passed()).collect()
    }
}
