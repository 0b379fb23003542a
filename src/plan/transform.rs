//! The spec's transform: a SQL template rendered once per batch with `batch_start`,
//! `batch_end`, `partitions` and `backfill_id`, then parsed as exactly one query.
//! Errors point at the transform's own line in the spec (or its `.sql` file).

use std::collections::{BTreeSet, VecDeque};
use std::ops::ControlFlow;

use chrono::NaiveDate;
use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{visit_relations, Query, Statement, Visit, Visitor};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Location, Tokenizer};
use minijinja::{context, Environment, Value};

use crate::spec::{Spec, SpecError, TransformOrigin, TransformText};
use crate::sql::{date_value, environment, Dialect};

/// The transform template of one spec, compiled once for one dialect.
pub struct TransformTemplate {
    env: Environment<'static>,
    dialect: Dialect,
}

impl TransformTemplate {
    /// Compile the transform of `spec` that DataFusion executes.
    ///
    /// Errors: as [`TransformTemplate::compile_for`].
    pub fn compile(spec: &Spec) -> Result<Self, SpecError> {
        Self::compile_for(spec, Dialect::DataFusion)
    }

    /// Compile the transform `dialect` renders ([`crate::spec::Transform::for_dialect`]),
    /// with that dialect's literals.
    ///
    /// Errors: template syntax errors, at the transform's line.
    pub fn compile_for(spec: &Spec, dialect: Dialect) -> Result<Self, SpecError> {
        let mut env = environment(dialect);
        let source = spec.transform.for_dialect(dialect);
        let text = source.sql.trim_end().trim_end_matches(';').to_string();
        env.add_template_owned("transform", text).map_err(|e| {
            let at = template_position(&source, &e);
            transform_error_in(
                spec,
                &source,
                at,
                format!("the transform template does not compile: {}", e.detail().unwrap_or("syntax error")),
                TEMPLATE_FIX,
            )
        })?;
        Ok(Self { env, dialect })
    }

    /// Render for a batch covering `partitions` (sorted, non-empty). Returns SQL text.
    ///
    /// Errors: undefined variables or values with no SQL form, at the transform's line.
    pub fn render(&self, spec: &Spec, partitions: &[NaiveDate]) -> Result<String, SpecError> {
        let (first, last) = (partitions[0], partitions[partitions.len() - 1]);
        let ctx = context! {
            batch_start => date_value(first),
            batch_end => date_value(last),
            partitions => partitions.iter().map(|d| date_value(*d)).collect::<Vec<Value>>(),
            backfill_id => spec.backfill_id.as_str(),
        };
        let tmpl = self.env.get_template("transform").expect("added in compile");
        tmpl.render(ctx).map_err(|e| {
            let detail = match (e.kind(), e.detail()) {
                (minijinja::ErrorKind::UndefinedError, _) => "it uses a variable that is not defined".to_string(),
                (_, Some(d)) => d.to_string(),
                (_, None) => e.kind().to_string(),
            };
            let source = spec.transform.for_dialect(self.dialect);
            transform_error_in(
                spec,
                &source,
                template_position(&source, &e),
                format!("the transform does not render: {detail}"),
                TEMPLATE_FIX,
            )
        })
    }
}

const TEMPLATE_FIX: &str =
    "use only {{ batch_start }}, {{ batch_end }}, {{ partitions | sql_list }} and {{ backfill_id }}";

/// Parse rendered transform SQL as exactly one query (SELECT or WITH … SELECT), with
/// DataFusion's parser.
///
/// Errors: as [`parse_query_in`].
pub fn parse_query(spec: &Spec, sql: &str) -> Result<Box<Query>, SpecError> {
    parse_query_in(spec, Dialect::DataFusion, sql)
}

/// Parse rendered transform SQL of `dialect` as exactly one query, with that dialect's
/// parser ([`Dialect::parser`]).
///
/// Errors: a parse error at the transform's line and column (in the spec, or the
/// transform's file), more than one statement, or a statement that is not a query.
pub fn parse_query_in(spec: &Spec, dialect: Dialect, sql: &str) -> Result<Box<Query>, SpecError> {
    let source = spec.transform.for_dialect(dialect);
    let transform_error =
        |spec: &Spec, at, problem: String, fix: &str| transform_error_in(spec, &source, at, problem, fix);
    let mut statements = parse_statements(dialect, sql).map_err(|(message, at)| {
        let fix = if source.field.starts_with("transform.dialects") {
            "fix the SQL; `backfill plan --dialect D` shows it rendered for each batch".to_string()
        } else {
            format!(
                "fix the SQL, or give this dialect its own under transform.dialects.{dialect}.sql; \
                 `backfill plan` shows it rendered for each batch"
            )
        };
        transform_error(spec, at, format!("the transform does not parse as {dialect} SQL: {message}"), &fix)
    })?;
    let only_query = "write the transform as a single SELECT (or WITH … SELECT) without a trailing statement";
    if statements.len() != 1 {
        return Err(transform_error(
            spec,
            None,
            format!("the transform holds {} statements", statements.len()),
            only_query,
        ));
    }
    match statements.pop_front() {
        Some(DFStatement::Statement(stmt)) => match *stmt {
            Statement::Query(q) => Ok(q),
            other => Err(transform_error(
                spec,
                None,
                format!("the transform is a `{}` statement, not a query", first_word(&other.to_string())),
                only_query,
            )),
        },
        _ => Err(transform_error(spec, None, "the transform is not a query".into(), only_query)),
    }
}

/// Why SQL did not parse, and the 1-based (line, column) where, when known.
type ParseFailure = (String, Option<(usize, usize)>);

/// `dialect`'s parse of `sql`: DataFusion's parser over its default dialect
/// (GenericDialect), or the warehouse dialect's sqlparser parser. On failure, the
/// message and the 1-based (line, column) where it stopped: the tokenizer's error location,
/// or the token the parser was looking at. (sqlparser keeps a parser error's own position
/// only in its text; the next token is that position for most errors, but not for one
/// raised after the parser consumed or backtracked over the offending token.)
fn parse_statements(dialect: Dialect, sql: &str) -> Result<VecDeque<DFStatement>, ParseFailure> {
    let at = |l: Location| (l.line > 0 && l.column > 0).then_some((l.line as usize, l.column as usize));
    let parser_dialect = dialect.parser();
    let tokens = Tokenizer::new(&*parser_dialect, sql).tokenize_with_location().map_err(|e| {
        let position = at(e.location);
        // The same text DataFusion gives a tokenizer error.
        (DataFusionError::from(ParserError::from(e)).to_string(), position)
    })?;
    if dialect != Dialect::DataFusion {
        let mut parser = Parser::new(&*parser_dialect).with_tokens_with_locations(tokens);
        return match parser.parse_statements() {
            Ok(statements) => Ok(statements.into_iter().map(|s| DFStatement::Statement(Box::new(s))).collect()),
            Err(e) => {
                let message = e.to_string();
                let position = stated_position(&message).or_else(|| at(parser.peek_token_ref().span.start));
                Err((message, position))
            }
        };
    }
    let mut parser = DFParserBuilder::new(tokens).build().map_err(|e| (e.to_string(), None))?;
    match parser.parse_statements() {
        Ok(statements) => Ok(statements),
        Err(e) => Err((e.to_string(), at(parser.parser.peek_token_ref().span.start))),
    }
}

/// The `at Line: L, Column: C` a sqlparser error states in its text (the token it
/// stopped at, even when the parser has already moved past it).
fn stated_position(message: &str) -> Option<(usize, usize)> {
    let (_, rest) = message.rsplit_once(" at Line: ")?;
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.parse().ok()?, column.parse().ok()?))
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace().next().unwrap_or_default().to_string()
}

/// The tables a statement reads, as written (`staging.revenue_events`), without the
/// names its own CTEs define. Sorted, deduplicated.
pub fn relations<V: Visit>(node: &V) -> Vec<String> {
    struct Ctes(BTreeSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                for cte in &with.cte_tables {
                    self.0.insert(cte.alias.name.value.to_lowercase());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = Ctes(BTreeSet::new());
    let _ = node.visit(&mut ctes);
    let mut out = BTreeSet::new();
    let _ = visit_relations(node, |name| {
        // Each part unquoted, whatever the dialect quotes with ("x", `x`).
        let part = |p: &datafusion::sql::sqlparser::ast::ObjectNamePart| {
            p.as_ident().map_or_else(|| p.to_string(), |i| i.value.clone())
        };
        let text = name.0.iter().map(part).collect::<Vec<_>>().join(".");
        if !ctes.0.contains(&text.to_lowercase()) {
            out.insert(text);
        }
        ControlFlow::<()>::Continue(())
    });
    out.into_iter().collect()
}

/// 1-based (line, column) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where in the transform text a minijinja error points: its byte range when it has
/// one, else its line.
fn template_position(source: &TransformText, e: &minijinja::Error) -> Option<(usize, usize)> {
    match e.range() {
        Some(r) => Some(line_col(source.sql, r.start)),
        None => e.line().map(|l| (l, 1)),
    }
}

/// Where `needle` first appears in the transform text (case-insensitive), to point at
/// the line that names a missing table.
pub fn find_in_transform(spec: &Spec, needle: &str) -> Option<(usize, usize)> {
    let offset = spec.transform.sql.to_lowercase().find(&needle.to_lowercase())?;
    Some(line_col(&spec.transform.sql, offset))
}

/// An error at `at` = (line, column), 1-based, of the transform text, placed in the spec
/// file (inline transforms) or the transform's own file. Without `at`, the error points
/// at the transform's start.
pub fn transform_error(
    spec: &Spec,
    at: Option<(usize, usize)>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> SpecError {
    transform_error_in(spec, &spec.transform.for_dialect(Dialect::DataFusion), at, problem, fix)
}

/// [`transform_error`] in the transform text `source` (one dialect's).
pub fn transform_error_in(
    spec: &Spec,
    source: &TransformText,
    at: Option<(usize, usize)>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> SpecError {
    match source.origin {
        TransformOrigin::File(path) => SpecError {
            file: path.clone(),
            position: at,
            field: "transform.file".into(),
            problem: problem.into(),
            fix: fix.into(),
        },
        TransformOrigin::Inline => {
            let mut err = spec.error_at(&source.field, problem, fix);
            if let (Some((first_line, first_col)), Some((line, col))) = (spec.field_start(&source.field), at) {
                err.position = Some((first_line + line - 1, first_col + col - 1));
            }
            err
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_statements;
    use crate::sql::Dialect;

    #[test]
    fn parse_errors_carry_the_position_where_parsing_stopped() {
        let df = Dialect::DataFusion;
        assert_eq!(parse_statements(df, "SELECT a,\n  b c d FROM t").unwrap_err().1, Some((2, 7)));
        assert_eq!(parse_statements(df, "SELECT * FROM t WHERE x = 'abc").unwrap_err().1, Some((1, 27)));
        // At the end of the text there is no token to point at.
        assert_eq!(parse_statements(df, "SELECT 1 +").unwrap_err().1, None);
        assert!(parse_statements(df, "SELECT 1").is_ok());
        // PostgreSQL has no backtick-quoted names: the tokenizer stops at the backtick.
        assert_eq!(parse_statements(Dialect::Postgres, "SELECT a\nFROM `t`").unwrap_err().1, Some((2, 6)));
    }
}
