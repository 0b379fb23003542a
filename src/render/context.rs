//! The template context of a plan: the values every statement shares (names, columns
//! with the dialect's types, comparison rules, range, metrics) and those of one batch.

use minijinja::{context, Value};
use serde::Serialize;

use super::{RenderError, WAREHOUSE_URL};
use crate::plan::{Batch, Plan};
use crate::spec::TableName;
use crate::sql::{self, Dialect};

#[derive(Serialize)]
struct Shared<'a> {
    base: String,
    shadow: String,
    view: String,
    partition_key: &'a str,
    identity: Vec<String>,
    compare: Vec<CompareCtx>,
    columns: Vec<ColumnCtx<'a>>,
    not_null: &'a [String],
    sample_rows: u32,
    order_column: Option<String>,
    shadow_location: String,
    range_start: Value,
    range_end: Value,
    excluded: Vec<Value>,
    source_range: String,
    partitions: usize,
    previous_body: Value,
    shadow_schema: &'a str,
    backfill_id: &'a str,
    code_version: String,
}

/// A compared (non-key) column and how its values are compared: `tolerance` is a SQL
/// literal (an exact decimal amount, or a relative float tolerance when `relative`), or
/// none for exact NULL-safe equality.
#[derive(Serialize)]
struct CompareCtx {
    name: String,
    tolerance: Option<Value>,
    relative: bool,
}

#[derive(Serialize)]
struct ColumnCtx<'a> {
    name: &'a str,
    sql_type: Value,
}

/// The template values every statement of `plan` shares, in `dialect`, with `shadow`
/// as the table compared with the base: names, columns with the dialect's types, how
/// each compared column is compared, the range, metrics and the view's previous body.
///
/// Errors: a base column whose type the dialect has no name for.
pub(super) fn shared(plan: &Plan, shadow: &TableName, dialect: Dialect) -> Result<Value, RenderError> {
    let spec = &plan.spec;
    let mut columns = Vec::with_capacity(plan.columns.len());
    for c in &plan.columns {
        let sql_type = match dialect {
            Dialect::DataFusion => c.sql_type.clone(),
            _ => dialect.type_name(&c.data_type).ok_or_else(|| RenderError::Unsupported {
                dialect,
                problem: format!(
                    "column {} of {} has type {}, which {dialect} has no type for",
                    c.name, spec.target.table, c.data_type
                ),
                fix: "render this backfill in a dialect that has it (postgres holds any decimal)".into(),
            })?,
        };
        columns.push(ColumnCtx { name: &c.name, sql_type: Value::from_safe_string(sql_type) });
    }
    // The view's body before the publish: backfill's catalog body (DataFusion SQL, whose
    // quoted names are string literals where identifiers are quoted with backticks), or
    // the base table when the catalog has none.
    let previous_body = if dialect == Dialect::DataFusion || plan.view.exists {
        if dialect.quote_char() != '"' && plan.view.body.contains('"') {
            return Err(RenderError::Unsupported {
                dialect,
                problem: format!(
                    "the catalog body of {} quotes names with \", which {dialect} reads as strings",
                    spec.target.view
                ),
                fix: "redefine the view without quoted names (backfill query shows it), then plan again".into(),
            });
        }
        plan.view.body.clone()
    } else {
        format!("SELECT * FROM {}", dialect.quote_table(&spec.target.table.to_string()))
    };
    let data_columns: Vec<String> = plan.columns.iter().filter(|c| !c.is_partition).map(|c| c.name.clone()).collect();
    let identity = if spec.target.keys.is_empty() { data_columns.clone() } else { spec.target.keys.clone() };
    let shared = Shared {
        base: spec.target.table.to_string(),
        shadow: shadow.to_string(),
        view: spec.target.view.to_string(),
        partition_key: &spec.target.partition_key,
        compare: plan
            .columns
            .iter()
            .filter(|c| !c.is_partition && !identity.contains(&c.name))
            .map(|c| compare_ctx(spec, c, dialect))
            .collect(),
        identity,
        columns,
        not_null: &spec.validation.not_null,
        sample_rows: spec.validation.sample_rows,
        order_column: order_column(plan),
        shadow_location: format!("{WAREHOUSE_URL}{}", spec.target.shadow.prefix()),
        range_start: sql::date_value(spec.source_range.start),
        range_end: sql::date_value(spec.source_range.end),
        excluded: spec.source_range.exclude.iter().map(|d| sql::date_value(*d)).collect(),
        source_range: super::scope_text(plan),
        partitions: plan.partitions.len(),
        previous_body: Value::from_safe_string(previous_body),
        shadow_schema: &shadow.schema,
        backfill_id: &spec.backfill_id,
        code_version: crate::build_info::TOOL_VERSION.to_string(),
    };
    let metrics: Vec<Value> = spec
        .validation
        .metrics
        .iter()
        .map(|m| context! { name => m.name.as_str(), sql => Value::from_safe_string(m.sql.clone()) })
        .collect();
    Ok(context! { metrics => metrics, ..Value::from_serialize(&shared) })
}

pub(super) fn batch_ctx(spec: &crate::spec::Spec, batch: &Batch) -> Value {
    context! {
        number => batch.number,
        partitions => batch.partitions.iter().map(|d| sql::date_value(*d)).collect::<Vec<_>>(),
        start => sql::date_value(batch.start()),
        end => sql::date_value(batch.end()),
        staging => format!("{WAREHOUSE_URL}_backfills/{}/staging/{:04}/", spec.backfill_id, batch.number),
    }
}

/// The column the largest changes are ordered by: the first signed numeric (integer,
/// decimal or float) non-key base column that a metric's expression names, metrics in
/// spec order (`sum(net_revenue)` → `net_revenue`; `count(DISTINCT carrier)` names no
/// numeric column and is passed over).
pub fn order_column(plan: &Plan) -> Option<String> {
    let numeric = |t: &datafusion::arrow::datatypes::DataType| {
        t.is_signed_integer()
            || t.is_floating()
            || matches!(
                t,
                datafusion::arrow::datatypes::DataType::Decimal128(..)
                    | datafusion::arrow::datatypes::DataType::Decimal256(..)
            )
    };
    plan.spec.validation.metrics.iter().find_map(|metric| {
        metric.sql.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).find_map(|w| {
            plan.columns
                .iter()
                .find(|c| {
                    c.name == w && !c.is_partition && !plan.spec.target.keys.contains(&c.name) && numeric(&c.data_type)
                })
                .map(|c| c.name.clone())
        })
    })
}

/// How column `c` is compared (see [`CompareCtx`]): floats within a relative tolerance
/// (the spec's `value_tolerance`, else [`crate::spec::DEFAULT_FLOAT_TOLERANCE`]);
/// decimals and integers exactly, within the spec's amount when it gives one; anything
/// else by NULL-safe equality.
fn compare_ctx(spec: &crate::spec::Spec, c: &crate::plan::Column, dialect: Dialect) -> CompareCtx {
    use datafusion::arrow::datatypes::DataType;
    let given = spec.validation.value_tolerance.get(&c.name);
    let (tolerance, relative) = if c.data_type.is_floating() {
        (Some(given.map_or(crate::spec::DEFAULT_FLOAT_TOLERANCE, String::as_str).to_string()), true)
    } else if c.data_type.is_integer() || matches!(c.data_type, DataType::Decimal128(..) | DataType::Decimal256(..)) {
        // An exact literal: DataFusion reads a bare 0.01 as a float.
        (
            given.map(|amount| {
                let scale = amount.split_once('.').map_or(0, |(_, f)| f.len());
                let decimal = match dialect {
                    Dialect::DataFusion => format!("DECIMAL(38, {scale})"),
                    d => d.decimal(38, scale as i8),
                };
                format!("CAST('{amount}' AS {decimal})")
            }),
            false,
        )
    } else {
        (None, false)
    };
    CompareCtx { name: c.name.clone(), tolerance: tolerance.map(Value::from_safe_string), relative }
}
