//! The template sets, one per dialect: embedded in the binary from `templates/`, each
//! overridable by a file of the same name in the `--templates DIR` folder.
//!
//! A dialect's template `N` is the first of `templates/<dialect>/N.sql.j2`,
//! `templates/scripts/N.sql.j2` (the five warehouse dialects, whose plan is three
//! scripts) and `templates/common/N.sql.j2` (every dialect: reconciliation). A dialect's
//! file may extend or import the shared one by its folder: `{% extends "scripts/N" %}`.

use std::path::{Path, PathBuf};

use minijinja::Environment;

use crate::sql::{environment, Dialect};

/// The dialect that is executed: `run --execute`, `publish` and `rollback` run its statements.
pub const DIALECT: &str = "datafusion";

macro_rules! embed {
    ($($folder:literal / $name:literal),* $(,)?) => {
        &[$(
            (concat!($folder, "/", $name), include_str!(concat!("../../templates/", $folder, "/", $name, ".sql.j2"))),
        )*]
    };
}

/// `(folder/name, source)` of every embedded template, names without `.sql.j2`.
pub const EMBEDDED: &[(&str, &str)] = embed![
    "common" / "_pair",
    "common" / "prepare_view",
    "common" / "evaluate_batch",
    "common" / "reconcile_partitions",
    "common" / "reconcile_unique_keys",
    "common" / "reconcile_rows",
    "common" / "reconcile_top_changes",
    "common" / "reconcile_samples",
    "common" / "reconcile_range",
    "common" / "rollback",
    "datafusion" / "create_shadow",
    "datafusion" / "write_batch",
    "datafusion" / "estimate_metrics",
    "datafusion" / "view_swap",
    "scripts" / "_ledger",
    "scripts" / "create_shadow",
    "scripts" / "write_batch",
    "scripts" / "view_swap",
    "scripts" / "rollback",
    "postgres" / "_dialect",
    "duckdb" / "_dialect",
    "spark" / "_dialect",
    "spark" / "create_shadow",
    "spark" / "write_batch",
    "bigquery" / "_dialect",
    "bigquery" / "create_shadow",
    "snowflake" / "_dialect",
    "snowflake" / "create_shadow",
];

/// Where templates come from: the embedded sets, optionally overridden from a folder.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    /// `--templates DIR`: `DIR/<name>.sql.j2` replaces the embedded template of that name.
    pub override_dir: Option<PathBuf>,
}

impl Templates {
    /// The embedded templates, optionally overridden from `dir`.
    pub fn new(dir: Option<&Path>) -> Self {
        Self { override_dir: dir.map(Path::to_path_buf) }
    }

    /// The folders `dialect` takes templates from, most specific first.
    fn folders(dialect: Dialect) -> Vec<&'static str> {
        match dialect {
            Dialect::DataFusion => vec!["datafusion", "common"],
            other => vec![other.name(), "scripts", "common"],
        }
    }

    /// `(file, source)` of template `name` for `dialect`: an override file if present,
    /// else the embedded text of the first folder that has it. Overrides: DataFusion's
    /// templates are `DIR/<name>.sql.j2`; a warehouse dialect's are
    /// `DIR/<dialect>/<name>.sql.j2`, and `DIR/<name>.sql.j2` only for a template it shares
    /// with DataFusion (`templates/common/`), so a DataFusion override never replaces a
    /// script's statement.
    ///
    /// Errors: an override that exists but cannot be read, or a name with no template.
    pub fn source(&self, dialect: Dialect, name: &str) -> Result<(String, String), String> {
        let embedded = Self::folders(dialect)
            .into_iter()
            .find_map(|folder| EMBEDDED.iter().find(|(n, _)| *n == format!("{folder}/{name}")));
        if let Some(dir) = &self.override_dir {
            let shared = embedded.is_some_and(|(n, _)| n.starts_with("common/"));
            let mut candidates = Vec::new();
            if dialect != Dialect::DataFusion {
                candidates.push(dir.join(dialect.name()).join(format!("{name}.sql.j2")));
            }
            if dialect == Dialect::DataFusion || shared {
                candidates.push(dir.join(format!("{name}.sql.j2")));
            }
            if let Some(path) = candidates.into_iter().find(|p| p.exists()) {
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                return Ok((path.display().to_string(), text));
            }
        }
        embedded
            .map(|(n, text)| (format!("templates/{n}.sql.j2"), text.to_string()))
            .ok_or_else(|| format!("there is no {dialect} template `{name}`"))
    }

    /// A minijinja environment for `dialect`: every template it resolves, by bare name
    /// (`write_batch`), and every shared one also by its folder (`scripts/write_batch`).
    ///
    /// Errors: `(template file, message)` for a template that does not compile.
    pub fn environment(&self, dialect: Dialect) -> Result<Environment<'static>, (String, String)> {
        let mut env = environment(dialect);
        let folders = Self::folders(dialect);
        let mut names = std::collections::BTreeSet::new();
        for (path, text) in EMBEDDED {
            let (folder, name) = path.split_once('/').expect("folder/name");
            if !folders.contains(&folder) {
                continue;
            }
            names.insert(name);
            if folder != dialect.name() {
                let file = format!("templates/{path}.sql.j2");
                env.add_template_owned(path.to_string(), text.to_string()).map_err(|e| (file, e.to_string()))?;
            }
        }
        for name in names {
            let (file, text) = self.source(dialect, name).map_err(|m| (name.to_string(), m))?;
            env.add_template_owned(name.to_string(), text).map_err(|e| (file, e.to_string()))?;
        }
        Ok(env)
    }
}
