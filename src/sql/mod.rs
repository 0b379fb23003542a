//! Shared leaf: SQL text helpers for templates and for the stages that build SQL:
//! identifier quoting, literal formatting and Arrow type names. Every value a template
//! prints goes through [`format_value`], so a plain `{{ x }}` is always a quoted literal;
//! only values built here as safe SQL (dates, quoted identifiers, parsed expressions)
//! print as they are.

mod dialect;
mod shapes;
mod view;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use minijinja::value::{Value, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Output, State, UndefinedBehavior};

pub use dialect::Dialect;
pub use shapes::ParsedShapes;
pub use view::{view_definition, ViewDefinition};

/// Quote one identifier part for DataFusion: left bare when it is a lowercase word that
/// is not a SQL keyword (`merchant_id`), double-quoted with `"` doubled otherwise
/// (`"date"`). See [`Dialect::quote_ident`].
pub fn quote_ident(name: &str) -> String {
    Dialect::DataFusion.quote_ident(name)
}

/// Quote a `schema.table` name part by part, for DataFusion.
pub fn quote_table(name: &str) -> String {
    Dialect::DataFusion.quote_table(name)
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
pub fn format_value(dialect: Dialect, out: &mut Output, _state: &State, value: &Value) -> Result<(), Error> {
    let text = if value.is_safe() {
        value.to_string()
    } else {
        match value.kind() {
            ValueKind::String => dialect
                .string_literal(value.as_str().unwrap_or_default())
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?,
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

/// Filter `ident`: one identifier part, quoted as needed in `dialect`.
pub fn ident_filter(dialect: Dialect, name: String) -> Result<Value, Error> {
    if name.is_empty() || name.contains('.') {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{name}` is not a single identifier; use the table filter for schema.table"),
        ));
    }
    Ok(Value::from_safe_string(dialect.quote_ident(&name)))
}

/// Filter `table`: a `schema.table` name, each part quoted as needed in `dialect`.
pub fn table_filter(dialect: Dialect, name: String) -> Result<Value, Error> {
    if name.split('.').count() != 2 || name.split('.').any(str::is_empty) {
        return Err(Error::new(ErrorKind::InvalidOperation, format!("`{name}` is not a schema.table name")));
    }
    Ok(Value::from_safe_string(dialect.quote_table(&name)))
}

/// Filter `sql_list`: a list of values, each formatted as by [`format_value`], joined by `, `.
pub fn sql_list_filter(dialect: Dialect, values: Vec<Value>) -> Result<Value, Error> {
    let mut parts = Vec::with_capacity(values.len());
    for v in values {
        parts.push(if v.is_safe() {
            v.to_string()
        } else if let Some(s) = v.as_str() {
            dialect.string_literal(s).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?
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

/// [`environment`] for the DataFusion dialect.
pub fn new_environment() -> Environment<'static> {
    environment(Dialect::DataFusion)
}

/// An environment with backfill's SQL rules for `dialect`: strict undefined variables,
/// every printed value formatted as a SQL literal of the dialect unless safe
/// ([`format_value`]), and the filters `ident`, `table` and `sql_list`, quoting as the
/// dialect does.
pub fn environment(dialect: Dialect) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::Custom("sql"));
    env.set_formatter(move |out, state, value| format_value(dialect, out, state, value));
    env.add_filter("ident", move |name: String| ident_filter(dialect, name));
    env.add_filter("table", move |name: String| table_filter(dialect, name));
    env.add_filter("sql_list", move |values: Vec<Value>| sql_list_filter(dialect, values));
    env.add_global("dialect", dialect.name());
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

/// Parse `sql` with `dialect`'s parser ([`Dialect::parser`]; DataFusion's own parser for
/// DataFusion): it must be exactly one statement, and for the warehouse dialects print
/// and parse back to the same AST (sqlparser's round trip).
///
/// Errors: the parser's message, how many statements there were, or the printed form
/// that did not parse back the same.
pub fn check_statement(dialect: Dialect, sql: &str) -> Result<(), String> {
    if dialect == Dialect::DataFusion {
        return check_parses(sql);
    }
    let parser = dialect.parser();
    let first = Parser::parse_sql(&*parser, sql).map_err(|e| e.to_string())?;
    if first.len() != 1 {
        return Err(format!("expected one statement, found {}", first.len()));
    }
    let printed = first[0].to_string();
    let again = Parser::parse_sql(&*parser, &printed).map_err(|e| format!("its printed form does not parse: {e}"))?;
    if again != first {
        return Err(format!("it does not round-trip: printed as `{printed}`, that parses differently"));
    }
    Ok(())
}

/// Split `text` into its statements at the top-level semicolons that `dialect`'s
/// tokenizer finds (never inside a string, a quoted name or a comment), each trimmed and
/// without its `;`; empty pieces are dropped.
///
/// Errors: the tokenizer's message (an unterminated string or quoted name).
pub fn split_statements(dialect: Dialect, text: &str) -> Result<Vec<String>, String> {
    let parser = dialect.parser();
    let tokens = Tokenizer::new(&*parser, text).tokenize_with_location().map_err(|e| e.to_string())?;
    // Byte offset of each line's start, to turn a token's (line, column) into an offset.
    let mut line_starts = vec![0];
    line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
    let offset = |line: u64, column: u64| {
        let start = line_starts[(line as usize).saturating_sub(1).min(line_starts.len() - 1)];
        let col = (column as usize).saturating_sub(1);
        start + text[start..].char_indices().nth(col).map_or(text.len() - start, |(i, _)| i)
    };
    let mut pieces = Vec::new();
    let mut from = 0;
    for t in tokens.iter().filter(|t| t.token == Token::SemiColon) {
        let at = offset(t.span.start.line, t.span.start.column);
        pieces.push(text[from..at].trim().to_string());
        from = at + 1;
    }
    pieces.push(text[from..].trim().to_string());
    Ok(pieces.into_iter().filter(|p| !p.is_empty()).collect())
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

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let text = "BEGIN;\nSELECT 'a;b', \"c;d\" -- e;f\nFROM t;\n\nCOMMIT;\n";
        let parts = split_statements(Dialect::Postgres, text).unwrap();
        assert_eq!(parts, vec!["BEGIN", "SELECT 'a;b', \"c;d\" -- e;f\nFROM t", "COMMIT"]);
        assert!(check_statement(Dialect::Postgres, "SELECT `a` FROM t").is_err());
        assert!(check_statement(Dialect::Spark, "SELECT `a` FROM t").is_ok());
    }
}
