//! The `validation` section: row-count tolerance, not-null columns, the metrics (each one
//! SQL aggregate expression, with its expected deltas) and per-column value tolerances.

use std::str::FromStr;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::spec::raw::{NumberOrText, RawAmount, RawSpec};
use crate::spec::units::{DeltaRange, Tolerance};
use crate::spec::*;

use super::Ctx;

impl Ctx {
    pub(super) fn validation(&self, raw: &RawSpec, target: &Target) -> Result<Validation, SpecError> {
        let v = &raw.validation;
        let row_count_tolerance = match &v.row_count_tolerance {
            None => Tolerance::Rows(0),
            Some(NumberOrText::Number(n)) => Tolerance::Rows(*n),
            Some(NumberOrText::Text(t)) => Tolerance::parse_percent(t).map_err(|p| {
                self.err(
                    "validation.row_count_tolerance",
                    p,
                    "write a row count such as 0 or a percent such as \"0.5%\"",
                )
            })?,
        };
        let not_null = v
            .not_null
            .iter()
            .enumerate()
            .map(|(i, c)| self.column(&format!("validation.not_null[{i}]"), c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut metrics: Vec<Metric> = Vec::new();
        for (i, m) in v.metrics.iter().enumerate() {
            let field = format!("validation.metrics[{i}]");
            let name = self.column(&format!("{field}.name"), &m.name)?;
            if metrics.iter().any(|x| x.name == name) {
                return Err(self.err(
                    &format!("{field}.name"),
                    format!("metric `{name}` is defined twice"),
                    "give each metric its own name",
                ));
            }
            check_metric_sql(&m.sql).map_err(|p| {
                self.err(&format!("{field}.sql"), p, "write one aggregate expression such as sum(net_revenue)")
            })?;
            let range = |what: &str, text: &Option<String>| match text {
                Some(text) => DeltaRange::parse(text).map(Some).map_err(|p| {
                    self.err(&format!("{field}.{what}"), p, "write \"-1.5% to -0.8%\", \"0%\" or \"+2% to +5%\"")
                }),
                None => Ok(None),
            };
            let expected_delta = range("expected_delta", &m.expected_delta)?;
            let batch_expected_delta = range("batch_expected_delta", &m.batch_expected_delta)?;
            metrics.push(Metric { name, sql: m.sql.trim().to_string(), expected_delta, batch_expected_delta });
        }
        let mut value_tolerance = std::collections::BTreeMap::new();
        for (column, amount) in &v.value_tolerance {
            let field = format!("validation.value_tolerance.{column}");
            let column = self.column(&field, column)?;
            let text = match amount {
                RawAmount::Number(n) => n.to_string(),
                RawAmount::Text(t) => t.trim().to_string(),
            };
            match bigdecimal::BigDecimal::from_str(&text) {
                Ok(d) if !bigdecimal::Signed::is_negative(&d) => {
                    value_tolerance.insert(column, d.normalized().to_plain_string())
                }
                _ => {
                    return Err(self.err(
                        &field,
                        format!("`{text}` is not a non-negative number"),
                        "write an amount in the column's units for a decimal or integer column (e.g. 0.01), \
                         or a relative tolerance for a float column (e.g. 1e-6)",
                    ))
                }
            };
        }
        let _ = target;
        Ok(Validation {
            row_count_tolerance,
            unique_keys: v.unique_keys.unwrap_or(true),
            not_null,
            metrics,
            sample_rows: v.sample_rows.unwrap_or(20),
            value_tolerance,
        })
    }
}

/// A metric must be exactly one SQL expression: no `;`, no second statement.
fn check_metric_sql(sql: &str) -> Result<(), String> {
    let mut parser =
        Parser::new(&GenericDialect {}).try_with_sql(sql).map_err(|e| format!("`{sql}` does not parse: {e}"))?;
    parser.parse_expr().map_err(|e| format!("`{sql}` does not parse as an expression: {e}"))?;
    match parser.peek_token().token {
        datafusion::sql::sqlparser::tokenizer::Token::EOF => Ok(()),
        other => Err(format!("`{sql}` has text after the expression, starting at `{other}`")),
    }
}
