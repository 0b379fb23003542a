//! The report as Markdown, for a pull request or a ticket: `templates/report/report.md.j2`.

use minijinja::{context, Value};

use super::Report;
use crate::render::RenderError;

/// Render `r` as GitHub-flavoured Markdown.
///
/// Errors: [`RenderError::Template`] when the embedded template fails to render.
pub fn render(r: &Report) -> Result<String, RenderError> {
    super::templates::render("report.md.j2", context! { r => Value::from_serialize(r) })
}
