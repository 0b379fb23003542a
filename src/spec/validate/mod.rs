//! The rules of DESIGN.md's spec section, applied to a [`RawSpec`] in field order. The
//! first broken rule is reported, at its line and column, with a fix.
//!
//! This module holds the checking context (`Ctx`: the file, its field positions and the
//! small per-value checks) and the order of the sections; each group of sections has
//! its own module: `target` (target, source range, rollback), `execution` (transform,
//! execution) and `validation` (validation, metrics).

mod execution;
mod target;
mod validation;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::ident::{check_backfill_id, check_column, TableName, IDENT_RULE};
use super::raw::RawSpec;
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
        let dialect = self.dialect(&raw)?;
        let transform = self.transform(&raw)?;
        let downstream = raw
            .downstream
            .iter()
            .enumerate()
            .map(|(i, d)| self.nonempty(&format!("downstream[{i}]"), d))
            .collect::<Result<Vec<_>, _>>()?;
        let validation = self.validation(&raw, &target)?;
        let rollback = self.rollback(&raw, &target, &id_ident)?;
        let warehouse = raw.warehouse.as_deref().map(|w| super::identity::resolve_warehouse(&self.file, w));
        Ok(Spec {
            backfill_id: raw.backfill_id,
            owner,
            reason,
            target,
            source_range,
            dialect,
            transform,
            downstream,
            execution,
            validation,
            rollback,
            source: SpecSource { file: self.file.clone(), index: self.index.clone(), warehouse },
        })
    }
}
