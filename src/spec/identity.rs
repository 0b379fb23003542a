//! What a command needs to know of a backfill without compiling it: its id, its consumer
//! view and its warehouse. `rollback` reads only this (DESIGN.md, faults: "rollback needs
//! only the catalog and the ledger, never the transform"), so a spec whose transform file
//! is gone, or whose other sections no longer check against the warehouse, can still be
//! rolled back. The few fields read are checked as strictly as [`super::Spec`] checks
//! them; every other field is skipped unread, and `transform.file` is never opened.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ident::{check_backfill_id, TableName, IDENT_RULE};
use super::{PathIndex, SpecError};

/// The identity of a backfill, from its spec read leniently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecIdentity {
    /// `backfill_id`, checked as [`super::Spec`] checks it.
    pub backfill_id: String,
    /// `target.view`, or its default `<target.table>_current`.
    pub view: TableName,
    /// The `warehouse:` value resolved against the spec's folder, if the spec has one.
    pub warehouse: Option<String>,
    /// The spec file as given, for messages.
    pub file: PathBuf,
}

/// The fields read, as written; serde skips every other field, whatever its type.
#[derive(Debug, Deserialize)]
struct RawIdentity {
    backfill_id: String,
    #[serde(default)]
    warehouse: Option<String>,
    target: RawTarget,
}

#[derive(Debug, Deserialize)]
struct RawTarget {
    #[serde(default)]
    table: Option<String>,
    #[serde(default)]
    view: Option<String>,
}

impl SpecIdentity {
    /// Read the identity of the spec at `path`.
    ///
    /// Errors: the file cannot be read, is not YAML, lacks `backfill_id` or `target`, or
    /// one of the fields read breaks its rule — each a [`SpecError`] (exit 2) at the
    /// field's line and column.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::parse(&super::read_text(path)?, path)
    }

    /// Read the identity from spec `text` as if read from `path`.
    ///
    /// Errors: as [`Self::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, SpecError> {
        let index = PathIndex::build(text);
        let err = |field: &str, problem: String, fix: &str| SpecError {
            file: path.to_path_buf(),
            position: index.find(field).map(|l| (l.line, l.column)),
            field: field.to_string(),
            problem,
            fix: fix.to_string(),
        };
        let raw: RawIdentity = super::yaml::from_yaml(text, path, &index)?;
        check_backfill_id(&raw.backfill_id).map_err(|p| {
            err(
                "backfill_id",
                p,
                "use lowercase letters, digits, `-` and `_`, starting with a letter or digit, at most 63 characters",
            )
        })?;
        let table_fix = format!("write `schema.table`; {IDENT_RULE}");
        let view = match (&raw.target.view, &raw.target.table) {
            (Some(view), _) => TableName::parse(view).map_err(|p| err("target.view", p, &table_fix))?,
            (None, Some(table)) => {
                let table = TableName::parse(table).map_err(|p| err("target.table", p, &table_fix))?;
                TableName::new(&table.schema, &format!("{}_current", table.table))
            }
            (None, None) => {
                return Err(err(
                    "target",
                    "names neither `view` nor `table`, so the consumer view is unknown".into(),
                    "add target.view (or target.table, whose view is <table>_current)",
                ))
            }
        };
        let warehouse = raw.warehouse.as_deref().map(|w| resolve_warehouse(path, w));
        Ok(Self { backfill_id: raw.backfill_id, view, warehouse, file: path.to_path_buf() })
    }
}

/// A spec's `warehouse:` value `w`: URLs and absolute paths as they are, a relative path
/// resolved against the folder of the spec at `spec_file`.
pub(super) fn resolve_warehouse(spec_file: &Path, w: &str) -> String {
    if w.contains("://") || Path::new(w).is_absolute() {
        w.to_string()
    } else {
        spec_file.parent().map(Path::to_path_buf).unwrap_or_default().join(w).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SpecIdentity, SpecError> {
        SpecIdentity::parse(text, Path::new("specs/x.yaml"))
    }

    #[test]
    fn reads_the_identity_and_skips_everything_else_unread() {
        let text = "backfill_id: fix-1\nowner: [not, a, string]\nwarehouse: ../wh\n\
                    target:\n  table: finance.daily_revenue\n  partition_key: 7\n  surprise: {a: 1}\n\
                    transform:\n  file: /nonexistent/transform.sql\nexecution: {partitions_per_batch: zero}\n";
        let id = parse(text).unwrap();
        assert_eq!(id.backfill_id, "fix-1");
        assert_eq!(id.view, TableName::new("finance", "daily_revenue_current"));
        assert_eq!(id.warehouse.as_deref(), Some(Path::new("specs").join("../wh").to_str().unwrap()));
        let id = parse("backfill_id: b\ntarget:\n  view: a.v\n  table: not a table\n").unwrap();
        assert_eq!((id.view.to_string(), id.warehouse), ("a.v".to_string(), None));
    }

    #[test]
    fn missing_or_invalid_fields_are_spec_errors_at_their_place() {
        let e = parse("owner: o\ntarget:\n  view: a.v\n").unwrap_err();
        assert!(e.problem.contains("missing field `backfill_id`"), "{e}");
        let e = parse("backfill_id: Bad Id\ntarget:\n  view: a.v\n").unwrap_err();
        assert_eq!((e.field.as_str(), e.position), ("backfill_id", Some((1, 14))));
        let e = parse("backfill_id: b\ntarget:\n  view: a.v; DROP TABLE x\n").unwrap_err();
        assert_eq!((e.field.as_str(), e.position), ("target.view", Some((3, 9))));
        let e = parse("backfill_id: b\ntarget:\n  table: nodot\n").unwrap_err();
        assert_eq!(e.field, "target.table");
        let e = parse("backfill_id: b\ntarget:\n  keys: [k]\n").unwrap_err();
        assert_eq!(e.field, "target");
        assert!(e.to_string().contains("fix: add target.view"), "{e}");
        let e = parse("backfill_id: b\n").unwrap_err();
        assert!(e.problem.contains("missing field `target`"), "{e}");
        assert!(parse("backfill_id: [\n").is_err());
    }
}
