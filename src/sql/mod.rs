//! Shared leaf: SQL text helpers for templates and for the stages that build SQL:
//! identifier quoting, literal formatting and Arrow type names. Every value a template
//! prints goes through [`format_value`], so a plain `{{ x }}` is always a quoted literal;
//! only values built here as safe SQL (dates, quoted identifiers, parsed expressions)
//! print as they are.

mod view;

use std::sync::LazyLock;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};
use regex::Regex;

pub use view::{view_definition, ViewDefinition};

static PLAIN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z_][a-z0-9_]*$").unwrap());

/// Quote one identifier part: left bare when it is a lowercase word that is not a SQL
/// keyword (`merchant_id`), double-quoted with `"` doubled otherwise (`"date"`).
pub fn quote_ident(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if PLAIN.is_match(name) && ALL_KEYWORDS.binary_search(&upper.as_str()).is_err() {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Quote a `schema.table` name part by part.
pub fn quote_table(name: &str) -> String {
    name.split('.').map(quote_ident).collect::<Vec<_>>().join(".")
}

/// A SQL string literal: `'it''s'`.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A DATE literal: `DATE '2024-12-01'`.
pub fn date_literal(d: NaiveDate) -> String {
    format!("DATE '{}'", d.format("%Y-%m-%d"))
}

/// A date as a template value that prints as a DATE literal.
pub fn date_value(d: NaiveDate) -> Value {
    Value::from_safe_string(date_literal(d))
}

/// The formatter installed on every template environment: safe values print as they
/// are; strings become quoted literals; numbers print as numbers; booleans as
/// TRUE/FALSE; none, undefined, lists and maps are errors (they have no single SQL form).
pub fn format_value(out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    let text = if value.is_safe() {
        value.to_string()
    } else {
        match value.kind() {
            ValueKind::String => string_literal(value.as_str().unwrap_or_default()),
            ValueKind::Number => value.to_string(),
            ValueKind::Bool => if value.is_true() { "TRUE" } else { "FALSE" }.to_string(),
            kind => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("a {kind} value cannot be printed into SQL; use a filter such as ident, table or sql_list"),
                ))
            }
        }
    };
    out.write_str(&text).map_err(|e| Error::new(ErrorKind::WriteFailure, e.to_string()))
}

/// Filter `ident`: one identifier part, quoted as needed.
pub fn ident_filter(name: String) -> Result<Value, Error> {
    if name.is_empty() || name.contains('.') {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{name}` is not a single identifier; use the table filter for schema.table"),
        ));
    }
    Ok(Value::from_safe_string(quote_ident(&name)))
}

/// Filter `table`: a `schema.table` name, each part quoted as needed.
pub fn table_filter(name: String) -> Result<Value, Error> {
    if name.split('.').count() != 2 || name.split('.').any(str::is_empty) {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("`{name}` is not a schema.table name")));
    }
    Ok(Value::from_safe_string(quote_table(&name)))
}

/// Filter `sql_list`: a list of values, each formatted as by [`format_value`], joined by `, `.
pub fn sql_list_filter(values: Vec<Value>) -> Result<Value, Error> {
    let mut parts = Vec::with_capacity(values.len());
    for v in values {
        parts.push(if v.is_safe() {
            v.to_string()
        } else if let Some(s) = v.as_str() {
            string_literal(s)
        } else if v.kind() == ValueKind::Number {
            v.to_string()
        } else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("a {} value cannot be listed in SQL", v.kind()),
            ));
        });
    }
    Ok(Value::from_safe_string(parts.join(", ")))
}

/// The DataFusion SQL name of an Arrow type, for casts and shadow DDL.
/// Returns `None` for types a shadow column cannot declare (lists, structs, maps).
pub fn sql_type(t: &DataType) -> Option<String> {
    Some(match t {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "TINYINT UNSIGNED".into(),
        DataType::UInt16 => "SMALLINT UNSIGNED".into(),
        DataType::UInt32 => "INT UNSIGNED".into(),
        DataType::UInt64 => "BIGINT UNSIGNED".into(),
        DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => format!("DECIMAL({p}, {s})"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BYTEA".into(),
        DataType::Dictionary(_, v) => return sql_type(v),
        _ => return None,
    })
}

/// An environment with backfill's SQL rules: strict undefined variables, every printed
/// value formatted as a SQL literal unless safe ([`format_value`]), and the
/// filters `ident`, `table` and `sql_list`.
pub fn new_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom("sql"));
    env.set_formatter(format_value);
    env.add_filter("ident", ident_filter);
    env.add_filter("table", table_filter);
    env.add_filter("sql_list", sql_list_filter);
    env.set_keep_trailing_newline(false);
    env
}

/// Parse `sql` with DataFusion's parser; it must be exactly one statement.
///
/// Errors: the parser's message, or how many statements there were.
pub fn check_parses(sql: &str) -> Result<(), String> {
    let stmts = DFParser::parse_sql(sql).map_err(|e| e.to_string())?;
    match stmts.len() {
        1 => Ok(()),
        n => Err(format!("expected one statement, found {n}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("merchant_id"), "merchant_id");
        assert_eq!(quote_ident("date"), "\"date\"");
        assert_eq!(quote_ident("x\"; DROP"), "\"x\"\"; DROP\"");
        assert_eq!(quote_table("finance.daily_revenue"), "finance.daily_revenue");
        assert_eq!(string_literal("it's"), "'it''s'");
        assert_eq!(date_literal(NaiveDate::from_ymd_opt(2024, 12, 1).unwrap()), "DATE '2024-12-01'");
    }
}
