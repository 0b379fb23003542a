//! The one error type of the spec stage: where in which file, what is wrong, how to fix it.

use std::path::PathBuf;

/// A problem with a spec, located in its file. Always a user error (exit 2).
///
/// Displays as `specs/x.yaml:14:3: target.table: <problem>` followed by a `fix:` line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct SpecError {
    /// The spec file (or the transform `.sql` file) as the user named it.
    pub file: PathBuf,
    /// 1-based line and column, when the YAML has one for the field.
    pub position: Option<(usize, usize)>,
    /// Dotted field path, e.g. `source_range.exclude[0]`.
    pub field: String,
    /// What is wrong, in one sentence.
    pub problem: String,
    /// How to fix it, in one sentence.
    pub fix: String,
}

impl SpecError {
    fn render(&self) -> String {
        let place = match self.position {
            Some((line, col)) => format!("{}:{line}:{col}", self.file.display()),
            None => self.file.display().to_string(),
        };
        let field = if self.field.is_empty() { String::new() } else { format!(" {}:", self.field) };
        format!("{place}:{field} {}\n  fix: {}", self.problem, self.fix)
    }
}
