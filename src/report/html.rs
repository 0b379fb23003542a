//! The report as one self-contained HTML page, `templates/report/report.html.j2`: no
//! scripts, no external files. Two SVG charts per metric, drawn here with `plotters`:
//! its old vs new value per partition across the range, and its delta in percent per
//! partition against the expected range.

use minijinja::{context, Value};
use plotters::prelude::*;

use super::Report;
use crate::render::RenderError;

/// Render `r` as an HTML page.
///
/// Errors: [`RenderError::Template`] when the embedded template fails to render.
pub fn render(r: &Report) -> Result<String, RenderError> {
    let charts: Vec<Value> = (0..r.metric_definitions.len())
        .map(|i| {
            context! {
                values => Value::from_safe_string(values_chart(r, i)),
                delta => Value::from_safe_string(delta_chart(r, i)),
            }
        })
        .collect();
    super::templates::render("report.html.j2", context! { r => Value::from_serialize(r), charts })
}

const WIDTH: u32 = 1000;
const HEIGHT: u32 = 320;

/// Metric `i`'s old and new value per partition, as an SVG line chart.
fn values_chart(r: &Report, i: usize) -> String {
    let points: Vec<(i64, f64, f64)> = r
        .partitions
        .iter()
        .filter_map(|p| {
            // Plot coordinates only: the figures themselves are printed exactly elsewhere.
            let m = p.metrics.get(i)?;
            let y = |v: &Option<crate::number::Number>| v.as_ref().map_or(0.0, |n| n.to_f64());
            Some(((p.partition - r.scope.start).num_days(), y(&m.old), y(&m.new)))
        })
        .collect();
    let (lo, hi) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, o, n)| (lo.min(*o).min(*n), hi.max(*o).max(*n)));
    let name = &r.metric_definitions[i].name;
    chart(r, &format!("{name} per partition: base (old) vs shadow (new)"), lo, hi, |area| {
        area.draw_series(LineSeries::new(
            points.iter().map(|(x, o, _)| (*x, *o)),
            RGBColor(150, 160, 175).stroke_width(2),
        ))?
        .label("old (base)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(150, 160, 175).stroke_width(2)));
        area.draw_series(LineSeries::new(
            points.iter().map(|(x, _, n)| (*x, *n)),
            RGBColor(37, 99, 235).stroke_width(2),
        ))?
        .label("new (shadow)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(37, 99, 235).stroke_width(2)));
        Ok(())
    })
}

/// Metric `i`'s delta in percent per partition, with the expected range shaded.
fn delta_chart(r: &Report, i: usize) -> String {
    let points: Vec<(i64, f64)> = r
        .partitions
        .iter()
        .filter_map(|p| Some(((p.partition - r.scope.start).num_days(), p.metrics.get(i)?.percent()?)))
        .collect();
    let expected = r.metric_definitions[i].expected_delta;
    let (mut lo, mut hi) =
        points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, d)| (lo.min(*d), hi.max(*d)));
    if let Some(e) = expected {
        (lo, hi) = (lo.min(e.low), hi.max(e.high));
    }
    let name = &r.metric_definitions[i].name;
    let title = match expected {
        Some(e) => format!("{name}: delta % per partition (expected {e}, shaded)"),
        None => format!("{name}: delta % per partition"),
    };
    let span = (r.scope.end - r.scope.start).num_days();
    chart(r, &title, lo, hi, |area| {
        if let Some(e) = expected {
            area.draw_series(std::iter::once(Rectangle::new(
                [(0, e.low), (span, e.high)],
                RGBColor(22, 163, 74).mix(0.15).filled(),
            )))?
            .label("expected range")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], RGBColor(22, 163, 74).mix(0.3).filled()));
        }
        area.draw_series(points.iter().map(|(x, d)| Circle::new((*x, *d), 2, RGBColor(37, 99, 235).filled())))?
            .label("delta % of a partition")
            .legend(|(x, y)| Circle::new((x + 9, y), 3, RGBColor(37, 99, 235).filled()));
        Ok(())
    })
}

type Area<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordi64, plotters::coord::types::RangedCoordf64>,
>;

/// A chart over the range's days (x) and `lo..hi` (y), drawn by `draw`, as SVG text.
fn chart(
    r: &Report,
    title: &str,
    lo: f64,
    hi: f64,
    draw: impl FnOnce(&mut Area<'_>) -> Result<(), DrawingAreaErrorKind<std::io::Error>>,
) -> String {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo).abs() * 0.08).max(1e-6);
    let span = (r.scope.end - r.scope.start).num_days().max(1);
    let start = r.scope.start;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        let result = (|| {
            root.fill(&WHITE)?;
            let mut c = ChartBuilder::on(&root)
                .caption(title, ("sans-serif", 17))
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(80)
                .build_cartesian_2d(0i64..span, (lo - pad)..(hi + pad))?;
            c.configure_mesh()
                .x_labels(8)
                .x_label_formatter(&|d| (start + chrono::Duration::days(*d)).format("%Y-%m-%d").to_string())
                .y_label_formatter(&|v| format!("{v:.2}"))
                .light_line_style(RGBColor(238, 240, 244))
                .draw()?;
            draw(&mut c)?;
            c.configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .position(SeriesLabelPosition::UpperRight)
                .draw()?;
            root.present()
        })();
        if let Err(e) = result {
            tracing::warn!("chart `{title}` could not be drawn: {e}");
        }
    }
    svg
}
