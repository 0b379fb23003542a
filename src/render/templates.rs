//! The template set of one dialect: embedded in the binary from
//! `templates/<dialect>/*.sql.j2`, each overridable by a file of the same name in the
//! `--templates DIR` folder.

use std::path::{Path, PathBuf};

use minijinja::Environment;

use crate::sql::new_environment;

/// The dialect that is executed; the only one rendered today.
pub const DIALECT: &str = "datafusion";

/// `(name, source)` of every embedded template, names without `.sql.j2`.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("_pair", include_str!("../../templates/datafusion/_pair.sql.j2")),
    ("prepare_view", include_str!("../../templates/datafusion/prepare_view.sql.j2")),
    ("create_shadow", include_str!("../../templates/datafusion/create_shadow.sql.j2")),
    ("evaluate_batch", include_str!("../../templates/datafusion/evaluate_batch.sql.j2")),
    ("write_batch", include_str!("../../templates/datafusion/write_batch.sql.j2")),
    ("reconcile_partitions", include_str!("../../templates/datafusion/reconcile_partitions.sql.j2")),
    ("reconcile_unique_keys", include_str!("../../templates/datafusion/reconcile_unique_keys.sql.j2")),
    ("reconcile_rows", include_str!("../../templates/datafusion/reconcile_rows.sql.j2")),
    ("reconcile_top_changes", include_str!("../../templates/datafusion/reconcile_top_changes.sql.j2")),
    ("reconcile_samples", include_str!("../../templates/datafusion/reconcile_samples.sql.j2")),
    ("reconcile_range", include_str!("../../templates/datafusion/reconcile_range.sql.j2")),
    ("estimate_metrics", include_str!("../../templates/datafusion/estimate_metrics.sql.j2")),
    ("view_swap", include_str!("../../templates/datafusion/view_swap.sql.j2")),
    ("rollback", include_str!("../../templates/datafusion/rollback.sql.j2")),
];

/// Where templates come from: the embedded set, optionally overridden from a folder.
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

    /// Source of template `name`: the override file if present, else the embedded text.
    ///
    /// Errors: an override that exists but cannot be read, or a name with no template.
    pub fn source(&self, name: &str) -> Result<(String, String), String> {
        if let Some(dir) = &self.override_dir {
            let path = dir.join(format!("{name}.sql.j2"));
            if path.exists() {
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                return Ok((path.display().to_string(), text));
            }
        }
        EMBEDDED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, text)| (format!("templates/{DIALECT}/{n}.sql.j2"), text.to_string()))
            .ok_or_else(|| format!("there is no template `{name}`"))
    }

    /// A minijinja environment holding every template of the set.
    ///
    /// Errors: `(template file, message)` for a template that does not compile.
    pub fn environment(&self) -> Result<Environment<'static>, (String, String)> {
        let mut env = new_environment();
        for (name, _) in EMBEDDED {
            let (file, text) = self.source(name).map_err(|m| (name.to_string(), m))?;
            env.add_template_owned(name.to_string(), text).map_err(|e| (file, e.to_string()))?;
        }
        Ok(env)
    }
}
