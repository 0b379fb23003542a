//! The rules of DESIGN.md's spec section, applied to a [`RawSpec`] in field order. The
//! first broken rule is reported, at its line and column, with a fix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::ident::{check_backfill_id, check_column, check_tag, TableName, IDENT_RULE};
use std::str::FromStr;

use super::raw::{NumberOrText, RawAmount, RawSpec};
use super::units::{parse_duration, parse_size, DeltaRange, Tolerance};
use super::*;

/// Parse and check; see [`Spec::parse`].
pub(super) fn parse(text: &str, path: &Path) -> Result<Spec, SpecError> {
    let index = PathIndex::build(text);
    let ctx = Ctx { file: path.to_path_buf(), index };
    let raw = super::yaml::raw_spec(text, path, &ctx.index)?;
    ctx.check(raw)
}

struct Ctx {
    file: PathBuf,
    index: PathIndex,
}

impl Ctx {
    fn err(&self, field: &str, problem: impl Into<String>, fix: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.clone(),
            position: self.index.find(field).map(|l| (l.line, l.column)),
            field: field.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    fn base_dir(&self) -> PathBuf {
        self.file.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    fn table(&self, field: &str, text: &str) -> Result<TableName, SpecError> {
        TableName::parse(text).map_err(|p| self.err(field, p, format!("write `schema.table`; {IDENT_RULE}")))
    }

    fn column(&self, field: &str, text: &str) -> Result<String, SpecError> {
        check_column(text).map_err(|p| self.err(field, p, IDENT_RULE))?;
        Ok(text.to_string())
    }

    fn date(&self, field: &str, text: &str) -> Result<NaiveDate, SpecError> {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|e| {
            self.err(field, format!("`{text}` is not a date ({e})"), "write a real calendar date as YYYY-MM-DD")
        })
    }

    fn nonempty(&self, field: &str, text: &str) -> Result<String, SpecError> {
        if text.trim().is_empty() {
            return Err(self.err(field, "is empty", "write a value"));
        }
        if text.chars().any(char::is_control) {
            return Err(self.err(field, "contains control characters", "write it on one line without tabs"));
        }
        Ok(text.trim().to_string())
    }

    fn check(&self, raw: RawSpec) -> Result<Spec, SpecError> {
        check_backfill_id(&raw.backfill_id).map_err(|p| {
            self.err(
                "backfill_id",
                p,
                "use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters",
            )
        })?;
        let owner = self.nonempty("owner", &raw.owner)?;
        let reason = Reason {
            issue: self.nonempty("reason.issue", &raw.reason.issue)?,
            change: self.nonempty("reason.change", &raw.reason.change)?,
            kind: match raw.reason.kind.as_str() {
                "recompute" => ReasonKind::Recompute,
                "reinterpretation" => ReasonKind::Reinterpretation,
                other => {
                    return Err(self.err(
                        "reason.kind",
                        format!("`{other}` is not a kind"),
                        "write `recompute` or `reinterpretation`",
                    ))
                }
            },
        };
        let id_ident = raw.backfill_id.replace('-', "_");
        let target = self.target(&raw, &id_ident)?;
        let execution = self.execution(&raw)?;
        let source_range = self.range(&raw, execution.max_partitions)?;
        let transform = self.transform(&raw)?;
        let downstream = raw
            .downstream
            .iter()
            .enumerate()
            .map(|(i, d)| self.nonempty(&format!("downstream[{i}]"), d))
            .collect::<Result<Vec<_>, _>>()?;
        let validation = self.validation(&raw, &target)?;
        let rollback = self.rollback(&raw, &target, &id_ident)?;
        let warehouse = raw.warehouse.as_deref().map(|w| self.resolve_warehouse(w));
        Ok(Spec {
            backfill_id: raw.backfill_id,
            owner,
            reason,
            target,
            source_range,
            transform,
            downstream,
            execution,
            validation,
            rollback,
            source: SpecSource { file: self.file.clone(), index: self.index.clone(), warehouse },
        })
    }

    fn resolve_warehouse(&self, w: &str) -> String {
        if w.contains("://") || Path::new(w).is_absolute() {
            w.to_string()
        } else {
            self.base_dir().join(w).display().to_string()
        }
    }

    fn target(&self, raw: &RawSpec, id_ident: &str) -> Result<Target, SpecError> {
        let t = &raw.target;
        let table = self.table("target.table", &t.table)?;
        let partition_key = self.column("target.partition_key", &t.partition_key)?;
        let mut keys = Vec::new();
        for (i, k) in t.keys.iter().enumerate() {
            let field = format!("target.keys[{i}]");
            let k = self.column(&field, k)?;
            if k == partition_key || keys.contains(&k) {
                return Err(self.err(
                    &field,
                    format!("`{k}` is listed twice (the partition key is always part of the grain)"),
                    "list each key column once, without the partition key",
                ));
            }
            keys.push(k);
        }
        let view = match &t.view {
            Some(v) => self.table("target.view", v)?,
            None => TableName::new(&table.schema, &format!("{}_current", table.table)),
        };
        let shadow = match &t.shadow {
            Some(s) => self.table("target.shadow", s)?,
            None => TableName::new(&table.schema, &format!("{}__{id_ident}", table.table)),
        };
        if shadow.table.len() > 63 {
            return Err(self.err(
                "target.shadow",
                format!("the shadow name `{shadow}` is longer than 63 characters"),
                "set target.shadow to a shorter name",
            ));
        }
        for (field, name) in [("target.view", &view), ("target.shadow", &shadow)] {
            if *name == table {
                return Err(self.err(
                    field,
                    format!("`{name}` is the base table itself"),
                    "name a different table; the base table is never rewritten",
                ));
            }
        }
        if view == shadow {
            return Err(self.err(
                "target.shadow",
                "the shadow and the consumer view have the same name",
                "give them different names",
            ));
        }
        Ok(Target { table, partition_key, keys, view, shadow })
    }

    fn range(&self, raw: &RawSpec, max_partitions: u32) -> Result<SourceRange, SpecError> {
        let r = &raw.source_range;
        let start = self.date("source_range.start", &r.start)?;
        let end = self.date("source_range.end", &r.end)?;
        if end < start {
            return Err(self.err(
                "source_range.end",
                format!("the range ends ({end}) before it starts ({start})"),
                "make end the same as or later than start",
            ));
        }
        let mut exclude = BTreeSet::new();
        for (i, text) in r.exclude.iter().enumerate() {
            let field = format!("source_range.exclude[{i}]");
            let day = self.date(&field, text)?;
            if day < start || day > end {
                return Err(self.err(
                    &field,
                    format!("{day} is outside the range {start}..{end}"),
                    "remove it, or widen the range to include it",
                ));
            }
            if !exclude.insert(day) {
                return Err(self.err(&field, format!("{day} is excluded twice"), "list each excluded date once"));
            }
        }
        let range = SourceRange { start, end, exclude };
        let count = range.partition_count();
        if count == 0 {
            return Err(self.err(
                "source_range.exclude",
                "every partition of the range is excluded",
                "exclude fewer dates, or drop the backfill",
            ));
        }
        if count > i64::from(max_partitions) {
            return Err(self.err(
                "source_range.start",
                format!("the range holds {count} partitions, more than max_partitions ({max_partitions})"),
                "narrow the range, split the backfill, or raise execution.max_partitions",
            ));
        }
        Ok(range)
    }

    fn transform(&self, raw: &RawSpec) -> Result<Transform, SpecError> {
        let t = &raw.transform;
        match (&t.sql, &t.file) {
            (Some(sql), None) => {
                if sql.trim().is_empty() {
                    return Err(self.err("transform.sql", "is empty", "write the SELECT that computes corrected rows"));
                }
                Ok(Transform { sql: sql.clone(), origin: TransformOrigin::Inline })
            }
            (None, Some(file)) => {
                let path = self.base_dir().join(file);
                let sql = std::fs::read_to_string(&path).map_err(|e| {
                    self.err(
                        "transform.file",
                        format!("cannot read `{}`: {e}", path.display()),
                        "give a path relative to the spec's folder",
                    )
                })?;
                Ok(Transform { sql, origin: TransformOrigin::File(path) })
            }
            (Some(_), Some(_)) => Err(self.err(
                "transform",
                "has both `sql` and `file`",
                "keep exactly one of transform.sql and transform.file",
            )),
            (None, None) => Err(self.err(
                "transform",
                "has neither `sql` nor `file`",
                "add transform.sql (inline SQL) or transform.file (a path)",
            )),
        }
    }

    fn execution(&self, raw: &RawSpec) -> Result<Execution, SpecError> {
        let e = &raw.execution;
        let positive = |field: &str, v: Option<u32>, default: u32| match v {
            Some(0) => Err(self.err(field, "is 0", "use 1 or more")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let duration = |field: &str, v: &Option<String>, default: std::time::Duration| match v {
            Some(text) => parse_duration(text)
                .map_err(|p| self.err(field, p, "write a duration such as \"0s\", \"2s\", \"10m\" or \"1h\"")),
            None => Ok(default),
        };
        let max_bytes_scanned = match &e.max_bytes_scanned {
            None => None,
            Some(NumberOrText::Number(n)) => Some(*n),
            Some(NumberOrText::Text(t)) => Some(parse_size(t).map_err(|p| {
                self.err("execution.max_bytes_scanned", p, "write a size such as \"500MB\" or \"10GiB\"")
            })?),
        };
        let live_pipeline_marker = match &e.live_pipeline_marker {
            None => None,
            Some(m) => {
                let bad = m.is_empty()
                    || m.starts_with('/')
                    || m.contains("://")
                    || m.split('/').any(|s| s == ".." || s == "." || s.is_empty());
                if bad {
                    return Err(self.err(
                        "execution.live_pipeline_marker",
                        format!("`{m}` is not a relative object path inside the warehouse"),
                        "write a path such as _live/finance.daily_revenue.running, without `..` or a leading `/`",
                    ));
                }
                Some(m.clone())
            }
        };
        Ok(Execution {
            partitions_per_batch: positive("execution.partitions_per_batch", e.partitions_per_batch, 7)?,
            max_concurrency: positive("execution.max_concurrency", e.max_concurrency, 1)?,
            max_partitions: positive("execution.max_partitions", e.max_partitions, DEFAULT_MAX_PARTITIONS)?,
            max_bytes_scanned,
            pause_between_batches: duration(
                "execution.pause_between_batches",
                &e.pause_between_batches,
                std::time::Duration::ZERO,
            )?,
            query_timeout: duration("execution.query_timeout", &e.query_timeout, std::time::Duration::from_secs(600))?,
            live_pipeline_marker,
        })
    }

    fn validation(&self, raw: &RawSpec, target: &Target) -> Result<Validation, SpecError> {
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

    fn rollback(&self, raw: &RawSpec, target: &Target, id_ident: &str) -> Result<Rollback, SpecError> {
        let r = raw.rollback.as_ref();
        let snapshot = match r.and_then(|r| r.snapshot.as_ref()) {
            Some(s) => {
                check_tag(s).map_err(|p| {
                    self.err("rollback.snapshot", p, "write a tag such as finance.daily_revenue_pre_FIN_2841")
                })?;
                s.clone()
            }
            None => format!("{}_pre_{id_ident}", target.table),
        };
        Ok(Rollback { snapshot, retention_days: r.and_then(|r| r.retention_days).unwrap_or(30) })
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
