//! The spec's transform: a SQL template rendered once per batch with `batch_start`,
//! `batch_end`, `partitions` and `backfill_id`, then parsed as exactly one query.
//! Errors point at the transform's own line in the spec (or its `.sql` file).

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::sync::LazyLock;

use chrono::NaiveDate;
use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{visit_relations, Query, Statement, Visit, Visitor};
use minijinja::{context, Environment, Value};
use regex::Regex;

use super::sql::date_value;
use super::templates::new_environment;
use crate::spec::{Spec, SpecError, TransformOrigin};

/// The transform template of one spec, compiled once.
pub struct TransformTemplate {
    env: Environment<'static>,
}

static PARSER_POSITION: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"Line: (\d+), Column: (\d+)").unwrap());

impl TransformTemplate {
    /// Compile the transform of `spec`.
    ///
    /// Errors: template syntax errors, at the transform's line.
    pub fn compile(spec: &Spec) -> Result<Self, SpecError> {
        let mut env = new_environment();
        let text = spec.transform.sql.trim_end().trim_end_matches(';').to_string();
        env.add_template_owned("transform", text).map_err(|e| transform_error(spec, e.line(), None, format!("the transform template does not compile: {}", e.detail().unwrap_or("syntax error")), TEMPLATE_FIX))?;
        Ok(Self { env })
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
            let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.to_string());
            transform_error(spec, e.line(), None, format!("the transform does not render: {detail}"), TEMPLATE_FIX)
        })
    }
}

const TEMPLATE_FIX: &str = "use only {{ batch_start }}, {{ batch_end }}, {{ partitions | sql_list }} and {{ backfill_id }}";

/// Parse rendered transform SQL as exactly one query (SELECT or WITH … SELECT).
///
/// Errors: a parse error at the transform's line and column, more than one statement,
/// or a statement that is not a query.
pub fn parse_query(spec: &Spec, sql: &str) -> Result<Box<Query>, SpecError> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| {
        let message = e.to_string();
        let (line, col) = PARSER_POSITION
            .captures(&message)
            .map(|c| (c[1].parse().ok(), c[2].parse().ok()))
            .unwrap_or((None, None));
        transform_error(spec, line, col, format!("the transform does not parse: {message}"), "fix the SQL; `backfill plan` shows it rendered for each batch")
    })?;
    let only_query = "write the transform as a single SELECT (or WITH … SELECT) without a trailing statement";
    if statements.len() != 1 {
        return Err(transform_error(spec, None, None, format!("the transform holds {} statements", statements.len()), only_query));
    }
    match statements.pop_front() {
        Some(DFStatement::Statement(stmt)) => match *stmt {
            Statement::Query(q) => Ok(q),
            other => Err(transform_error(spec, None, None, format!("the transform is a `{}` statement, not a query", first_word(&other.to_string())), only_query)),
        },
        _ => Err(transform_error(spec, None, None, "the transform is not a query", only_query)),
    }
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
        let text = name.0.iter().map(|p| p.to_string().trim_matches('"').to_string()).collect::<Vec<_>>().join(".");
        if !ctes.0.contains(&text.to_lowercase()) {
            out.insert(text);
        }
        ControlFlow::<()>::Continue(())
    });
    out.into_iter().collect()
}

/// An error at line `line` (1-based) of the transform text, placed in the spec file
/// (inline transforms) or the transform's own file.
pub fn transform_error(spec: &Spec, line: Option<usize>, col: Option<usize>, problem: impl Into<String>, fix: impl Into<String>) -> SpecError {
    match &spec.transform.origin {
        TransformOrigin::File(path) => SpecError {
            file: path.clone(),
            position: line.map(|l| (l, col.unwrap_or(1))),
            field: "transform.file".into(),
            problem: problem.into(),
            fix: fix.into(),
        },
        TransformOrigin::Inline => {
            let mut err = spec.error_at("transform.sql", problem, fix);
            if let (Some(first), Some(line)) = (spec.transform_first_line(), line) {
                let indent = spec.source.index.find("transform").map(|l| l.column + 2).unwrap_or(1);
                err.position = Some((first + line - 1, col.map(|c| c + indent - 1).unwrap_or(indent)));
            }
            err
        }
    }
}
