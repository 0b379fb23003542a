//! The dry run's figures over a sample: each metric over the sampled partitions and over
//! their bootstrap resamples (the `estimate_metrics` statement), the 95 % interval of
//! each delta, and the `expected_delta` verdict on that interval (PASS inside, FAIL
//! wholly outside, UNCERTAIN across a bound, and always UNCERTAIN for a min or max).

use std::ops::ControlFlow;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{Date32Array, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{visit_expressions, Expr, ObjectName};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::{query, register, sample};
use crate::error::engine;
use crate::plan::{Batch, Plan};
use crate::reconcile::read::Rows;
use crate::reconcile::MetricTotal;
use crate::reconcile::{Gate, GateKind, MetricPair, Verdict};
use crate::render::{StatementRenderer, Step};
use crate::spec::TableName;
use crate::Error;

/// Whether metric `sql` calls `min` or `max` anywhere in its expression: an extreme of the
/// whole range, which a sample need not contain, so its bootstrap interval says nothing
/// about the range. A metric that does not parse (the spec check rejects those) counts as
/// one, which keeps its verdict UNCERTAIN.
fn extreme(sql: &str) -> bool {
    let Ok(expr) = Parser::new(&GenericDialect {}).try_with_sql(sql).and_then(|mut p| p.parse_expr()) else {
        return true;
    };
    let found = visit_expressions(&expr, |e| match e {
        Expr::Function(f) if is_min_or_max(&f.name) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    found.is_break()
}

/// `min` or `max` in any case, also schema-qualified (`public.max`).
fn is_min_or_max(name: &ObjectName) -> bool {
    let last = name.0.last().and_then(|part| part.as_ident());
    last.is_some_and(|id| id.value.eq_ignore_ascii_case("min") || id.value.eq_ignore_ascii_case("max"))
}

/// Each metric over the sample and its bootstrap resamples (`estimate_metrics`): the
/// sample's value, the interval of the resamples' deltas, and the `expected_delta` gate
/// on that interval (pushed onto `gates`).
pub(super) async fn estimate_metrics(
    ctx: &SessionContext,
    r: &StatementRenderer<'_>,
    plan: &Plan,
    batch: &Batch,
    gates: &mut Vec<Gate>,
) -> Result<Vec<MetricTotal>, Error> {
    let spec = &plan.spec;
    let draws = sample::replicates(&batch.partitions, &plan.partitions);
    let schema = Arc::new(Schema::new(vec![
        Field::new("backfill_replicate", DataType::UInt32, false),
        Field::new("backfill_partition", DataType::Date32, false),
    ]));
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    let columns: Vec<datafusion::arrow::array::ArrayRef> = vec![
        Arc::new(draws.iter().map(|(r, _)| *r).collect::<UInt32Array>()),
        Arc::new(Date32Array::from(draws.iter().map(|(_, d)| (*d - epoch).num_days() as i32).collect::<Vec<i32>>())),
    ];
    let draws = RecordBatch::try_new(schema.clone(), columns).map_err(|e| engine(e.into()))?;
    register(
        ctx,
        &TableName::new("backfill_dry_run", "replicates"),
        MemTable::try_new(schema, vec![vec![draws]]).map_err(engine)?,
    )?;

    let n = spec.validation.metrics.len();
    let mut per_replicate: std::collections::BTreeMap<u64, Vec<MetricPair>> = Default::default();
    for b in query(ctx, &r.render_step(Step::EstimateMetrics, Some(batch))?).await? {
        let rows = Rows::new(Step::EstimateMetrics, &b);
        for row in 0..rows.len() {
            let pairs =
                per_replicate.entry(rows.count("replicate", row)?).or_insert_with(|| vec![MetricPair::default(); n]);
            let base = rows.text("side", row)?.as_deref() == Some("base");
            for (pair, m) in pairs.iter_mut().zip(&spec.validation.metrics) {
                let value = rows.number(&m.name, row)?;
                if base {
                    pair.old = value
                } else {
                    pair.new = value
                }
            }
        }
    }
    let point = per_replicate.remove(&0).unwrap_or_else(|| vec![MetricPair::default(); n]);
    let sampled = format!("{} of {} partitions", batch.partitions.len(), plan.partitions.len());
    let mut out = Vec::new();
    for (i, (m, pair)) in spec.validation.metrics.iter().zip(point).enumerate() {
        let mut deltas: Vec<f64> = per_replicate.values().filter_map(|pairs| pairs[i].percent()).collect();
        let interval = sample::interval(&mut deltas).map(|(lo, hi)| [lo, hi]);
        let percent = pair.percent();
        let verdict = m.expected_delta.map(|e| {
            let (verdict, detail) = match (percent, interval) {
                (Some(p), Some(_)) if extreme(&m.sql) => (
                    Verdict::Uncertain,
                    format!(
                        "sample estimate {} {} ({sampled}); \
                         a sample cannot bound a min or max over the whole range; expected {e}",
                        m.name,
                        crate::number::percent(Some(p))
                    ),
                ),
                (Some(p), Some([lo, hi])) => {
                    let verdict = if lo >= e.low && hi <= e.high {
                        Verdict::Pass
                    } else if hi < e.low || lo > e.high {
                        Verdict::Fail
                    } else {
                        Verdict::Uncertain
                    };
                    (
                        verdict,
                        format!(
                            "sample estimate {} {} (95 % interval {} to {}; {sampled}); \
                             expected {e} over the whole range",
                            m.name,
                            crate::number::percent(Some(p)),
                            crate::number::percent(Some(lo)),
                            crate::number::percent(Some(hi))
                        ),
                    )
                }
                _ => (
                    Verdict::Uncertain,
                    format!(
                        "sample estimate of {} cannot be computed: \
                         the base value is 0 or NULL ({sampled})",
                        m.name
                    ),
                ),
            };
            gates.push(Gate { name: GateKind::ExpectedDelta(m.name.clone()), verdict, detail });
            verdict
        });
        out.push(MetricTotal::new(m, pair, interval, verdict));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::extreme;

    #[test]
    fn min_and_max_calls_are_extremes_wherever_they_sit() {
        for sql in ["max(net_revenue)", "MIN (x)", "sum(x) / max(y)", "coalesce(Max(x), 0)", "public.max(x)"] {
            assert!(extreme(sql), "{sql}");
        }
        for sql in ["sum(net_revenue)", "count(*)", "sum(max_price)", "avg(\"min\")", "sum(x) + 'max(y)'"] {
            assert!(!extreme(sql), "{sql}");
        }
    }
}
