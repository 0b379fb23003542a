//! The report's templates, embedded in the binary from `templates/report/`, and the
//! minijinja environment that renders them. Templates lay out text only: every figure is
//! formatted by a filter that calls [`crate::number`], never in the template.
//!
//! Filters: `number` (an exact or float value for people, `NULL` for none), `percent`
//! (`+12.46 %`, `n/a`), `thousands` (`2,184`), `change` (a [`MetricPair`]'s delta in
//! percent), `delta_range` (an expected range, empty for none), `interval` (a sample's 95 %
//! interval in percent, ` (95 %: -1.2 % to -0.9 %)`, empty for none), `verdict` (`pass`, `FAIL`,
//! `UNCERTAIN`), `dates` (a date list, `none` when empty) and `cell` (a Markdown table
//! cell with `|` and line breaks escaped). `.html.j2` templates escape text for HTML.

use chrono::NaiveDate;
use minijinja::value::ViaDeserialize;
use minijinja::{Environment, Error as TemplateError, ErrorKind, Value};

use crate::number::{count, or_null, percent, Number};
use crate::reconcile::{MetricPair, Verdict};
use crate::render::RenderError;
use crate::spec::DeltaRange;

/// `(name, source)` of every embedded report template.
const EMBEDDED: &[(&str, &str)] = &[
    ("_macros.md.j2", include_str!("../../templates/report/_macros.md.j2")),
    ("_macros.html.j2", include_str!("../../templates/report/_macros.html.j2")),
    ("_style.css", include_str!("../../templates/report/_style.css")),
    ("report.md.j2", include_str!("../../templates/report/report.md.j2")),
    ("report.html.j2", include_str!("../../templates/report/report.html.j2")),
];

/// Render the embedded template `name` (e.g. `report.md.j2`) with `context`.
///
/// Errors: [`RenderError::Template`] when the template does not compile or render.
pub fn render(name: &str, context: Value) -> Result<String, RenderError> {
    let template = format!("templates/report/{name}");
    let failed = |e: TemplateError| RenderError::Template { template: template.clone(), message: format!("{e:#}") };
    environment().map_err(failed)?.get_template(name).and_then(|t| t.render(context)).map_err(failed)
}

/// An environment holding every report template and the report's filters.
fn environment() -> Result<Environment<'static>, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    for (name, source) in EMBEDDED {
        env.add_template(name, source)?;
    }
    env.add_filter("number", |n: ViaDeserialize<Option<Number>>| or_null(n.0.as_ref()));
    env.add_filter("percent", |p: Option<f64>| percent(p));
    env.add_filter("thousands", |n: u64| count(n));
    env.add_filter("change", |pair: ViaDeserialize<MetricPair>| percent(pair.0.percent()));
    env.add_filter("delta_range", delta_range);
    env.add_filter("interval", |i: ViaDeserialize<Option<[f64; 2]>>| {
        i.0.map_or(String::new(), |[lo, hi]| format!(" (95 %: {} to {})", percent(Some(lo)), percent(Some(hi))))
    });
    env.add_filter("verdict", |v: ViaDeserialize<Verdict>| v.0.word());
    env.add_filter("dates", |d: ViaDeserialize<Vec<NaiveDate>>| super::date_list(&d.0));
    env.add_filter("cell", |text: &str| text.replace('|', "\\|").replace('\n', " "));
    Ok(env)
}

/// An expected range as the spec's text (`-1.5 % to -0.8 %`); empty for none.
fn delta_range(range: Value) -> Result<String, TemplateError> {
    if range.is_none() || range.is_undefined() {
        return Ok(String::new());
    }
    let bound = |name: &str| {
        f64::try_from(range.get_attr(name)?)
            .map_err(|_| TemplateError::new(ErrorKind::InvalidOperation, format!("an expected range without `{name}`")))
    };
    Ok(DeltaRange { low: bound("low")?, high: bound("high")? }.to_string())
}

#[cfg(test)]
#[path = "templates_tests.rs"]
mod tests;
