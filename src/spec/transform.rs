//! `transform:` — the SQL template that computes corrected rows, where its text lives,
//! and the per-dialect overrides (`transform.dialects.<dialect>.sql`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::sql::Dialect;

/// `transform:` — the SQL template and where its text came from.
#[derive(Debug, Clone, Serialize)]
pub struct Transform {
    /// The minijinja SQL template (`{{ batch_start }}`, `{{ batch_end }}`, `{{ partitions }}`, `{{ backfill_id }}`).
    pub sql: String,
    /// Inline in the spec or from a file; used to place SQL errors.
    #[serde(skip)]
    pub origin: TransformOrigin,
    /// `transform.dialects.<dialect>.sql`: the transform for one dialect, where
    /// `transform.sql` is not portable to it (inline only).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dialects: BTreeMap<Dialect, String>,
}

/// The transform text one dialect renders, and where it lives for error messages.
#[derive(Debug, Clone)]
pub struct TransformText<'a> {
    /// The SQL template.
    pub sql: &'a str,
    /// `transform.sql` / `transform.file` (the spec's own text) or
    /// `transform.dialects.<dialect>.sql` (an override).
    pub field: String,
    /// Where the text lives.
    pub origin: &'a TransformOrigin,
}

impl Transform {
    /// The transform `dialect` renders: its `transform.dialects` override, else the
    /// spec's own text.
    pub fn for_dialect(&self, dialect: Dialect) -> TransformText<'_> {
        const INLINE: &TransformOrigin = &TransformOrigin::Inline;
        match self.dialects.get(&dialect) {
            Some(sql) => TransformText { sql, field: format!("transform.dialects.{dialect}.sql"), origin: INLINE },
            None => {
                let field = match self.origin {
                    TransformOrigin::Inline => "transform.sql",
                    TransformOrigin::File(_) => "transform.file",
                };
                TransformText { sql: &self.sql, field: field.into(), origin: &self.origin }
            }
        }
    }
}

/// Where the transform's text lives, so an error at its line N can be shown at the
/// right line of the right file.
#[derive(Debug, Clone, Default)]
pub enum TransformOrigin {
    /// `transform.sql`; the text's first line is this line of the spec file.
    #[default]
    Inline,
    /// `transform.file`, resolved against the spec's folder.
    File(PathBuf),
}
