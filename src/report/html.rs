//! The report as one self-contained HTML page: no scripts, no external files. Two SVG
//! charts drawn with `plotters`: each metric old vs new per partition across the range,
//! and each metric's delta in percent per partition against the expected range.

use std::fmt::Write;

use plotters::prelude::*;

use super::Report;
use crate::number::{count, or_null, percent};
use crate::reconcile::Table;

/// Render `r` as an HTML page.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.scope;
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Backfill report: {id}</title>\n<style>{CSS}</style></head><body>\n<h1>Backfill report: {id}</h1>\n",
        id = esc(&r.backfill_id)
    );
    let _ = writeln!(o, "<p><b>{}</b>: {} ({}), owner {}</p>", esc(&r.reason.issue), esc(&r.reason.change), r.reason.kind, esc(&r.owner));
    let verdict = if !r.complete {
        format!("<p class=\"bad\">Incomplete: the figures cover {} of {} batches.</p>", r.batches_done, r.batches)
    } else if let Some(why) = &r.metrics_pending {
        format!("<p class=\"bad\">Every batch is done, but the whole-range figures are missing: {}.</p>", esc(why))
    } else if r.gates.iter().all(|g| g.passed()) {
        "<p class=\"good\">Every batch is done and every gate passed.</p>".to_string()
    } else {
        "<p class=\"bad\">A gate failed: this backfill must not be published.</p>".to_string()
    };
    o.push_str(&verdict);
    let _ = writeln!(o, "<table class=\"facts\"><tr><th>base table</th><td><code>{}</code></td></tr>", esc(&s.table));
    let _ = writeln!(
        o,
        "<tr><th>scope</th><td><code>{}</code> {} .. {}: {} partitions</td></tr>",
        esc(&s.partition_key),
        s.start,
        s.end,
        count(s.partitions as u64)
    );
    let _ = writeln!(o, "<tr><th>shadow → view</th><td><code>{}</code> → <code>{}</code></td></tr>", esc(&s.shadow), esc(&s.view));
    let _ = writeln!(o, "<tr><th>plan fingerprint</th><td><code>{}</code></td></tr>", esc(&r.fingerprint));
    let _ = writeln!(o, "<tr><th>batches</th><td>{} of {} done</td></tr></table>", r.batches_done, r.batches);

    o.push_str("<h2>Gates</h2>\n<div class=\"scroll\"><table><tr><th>gate</th><th>result</th><th>detail</th></tr>\n");
    for g in &r.gates {
        let class = if g.passed() { "good" } else { "bad" };
        let _ = writeln!(o, "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>", esc(&g.name), g.verdict.word(), esc(&g.detail));
    }
    o.push_str("</table></div>\n<h2>Metrics over the whole range</h2>\n");
    match &r.metrics_pending {
        Some(why) => {
            let _ = writeln!(o, "<p class=\"bad\">Not yet: {}.</p>", esc(why));
        }
        None => {
            o.push_str("<p>One query over every base row and one over every shadow row in range.</p>\n<div class=\"scroll\"><table><tr><th>metric</th><th>sql</th><th>old</th><th>new</th><th>delta</th><th>delta %</th><th>expected</th></tr>\n");
            for m in &r.metrics {
                let class = match m.within {
                    Some(true) => "good",
                    Some(false) => "bad",
                    None => "",
                };
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n {class}\">{}</td><td>{}</td></tr>",
                    esc(&m.name),
                    esc(&m.sql),
                    or_null(m.old.as_ref()),
                    or_null(m.new.as_ref()),
                    or_null(m.delta.as_ref()),
                    percent(m.percent),
                    m.expected.map_or(String::new(), |e| e.to_string())
                );
            }
            o.push_str("</table></div>\n");
        }
    }
    let c = &r.rows;
    let _ = writeln!(
        o,
        "<p>Rows: {} unchanged, {} changed, {} added, {} removed.</p>",
        count(c.unchanged),
        count(c.changed),
        count(c.added),
        count(c.removed)
    );
    if !r.comparisons.is_empty() {
        o.push_str("<p>Values compared (keys matched NULL-safely):</p><ul>");
        for line in &r.comparisons {
            let _ = write!(o, "<li>{}</li>", esc(line));
        }
        o.push_str("</ul>\n");
    }
    for (i, m) in r.metric_definitions.iter().enumerate() {
        let _ = writeln!(o, "<h2>{} per partition</h2>\n<figure>{}</figure>", esc(&m.name), values_chart(r, i));
        let _ = writeln!(o, "<figure>{}</figure>", delta_chart(r, i));
    }
    if !r.batch_metrics.is_empty() && !r.metric_definitions.is_empty() {
        o.push_str("<h2>Metrics per batch</h2>\n<p>Each batch's own aggregate over its rows: delta % per metric.</p>\n<div class=\"scroll\"><table><tr><th>batch</th><th>partitions</th>");
        for m in &r.metric_definitions {
            let _ = write!(o, "<th>{}</th>", esc(&m.name));
        }
        o.push_str("</tr>\n");
        for b in &r.batch_metrics {
            let _ = write!(o, "<tr><td class=\"n\">{}</td><td>{}..{}</td>", b.batch, b.first, b.last);
            for p in &b.metrics {
                let _ = write!(o, "<td class=\"n\">{}</td>", percent(p.percent()));
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table></div>\n");
    }
    o.push_str("<h2>Outliers</h2>\n");
    if r.outliers.is_empty() {
        o.push_str("<p>None: no partition's delta lies far outside the expected range.</p>\n");
    } else {
        o.push_str("<p>Each partition's own values.</p><div class=\"scroll\"><table><tr><th>partition</th><th>metric</th><th>old</th><th>new</th><th>delta %</th></tr>\n");
        for x in &r.outliers {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                x.partition,
                esc(&x.metric),
                or_null(x.pair.old.as_ref()),
                or_null(x.pair.new.as_ref()),
                percent(x.percent)
            );
        }
        o.push_str("</table></div>\n");
    }
    let _ = writeln!(o, "<h2>Largest changes</h2>\n{}", table(&r.top_changes));
    let _ = writeln!(o, "<h2>Unchanged rows (sample)</h2>\n{}", table(&r.unchanged_sample));
    let _ = writeln!(o, "<h2>Added rows (sample)</h2>\n{}", table(&r.added_sample));
    let _ = writeln!(o, "<h2>Removed rows (sample)</h2>\n{}", table(&r.removed_sample));
    let list = super::date_list;
    let _ = writeln!(
        o,
        "<h2>Skipped partitions</h2>\n<p>Excluded: {}. Without source data: {}.</p>",
        list(&r.skipped.excluded),
        list(&r.skipped.without_source)
    );
    o.push_str("<h2>Downstream dependents</h2>\n<ul>");
    for d in &r.downstream {
        let _ = write!(o, "<li>{}</li>", esc(d));
    }
    o.push_str("</ul>\n</body></html>\n");
    o
}

const CSS: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:1060px;margin:2em auto;padding:0 1em;color:#1d2433}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d5d9e0;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f2f4f7}.n{text-align:right;font-variant-numeric:tabular-nums}.good{color:#17693a;font-weight:600}.bad{color:#b42318;font-weight:600}\
code{font-size:90%}figure{margin:.5em 0;overflow-x:auto}.scroll{overflow-x:auto;max-width:100%}";

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
    let (lo, hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, o, n)| (lo.min(*o).min(*n), hi.max(*o).max(*n)));
    let name = &r.metric_definitions[i].name;
    chart(r, &format!("{name} per partition: base (old) vs shadow (new)"), lo, hi, |area| {
        area.draw_series(LineSeries::new(points.iter().map(|(x, o, _)| (*x, *o)), RGBColor(150, 160, 175).stroke_width(2)))?
            .label("old (base)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(150, 160, 175).stroke_width(2)));
        area.draw_series(LineSeries::new(points.iter().map(|(x, _, n)| (*x, *n)), RGBColor(37, 99, 235).stroke_width(2)))?
            .label("new (shadow)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], RGBColor(37, 99, 235).stroke_width(2)));
        Ok(())
    })
}

/// Metric `i`'s delta in percent per partition, with the expected range shaded.
fn delta_chart(r: &Report, i: usize) -> String {
    let points: Vec<(i64, f64)> =
        r.partitions.iter().filter_map(|p| Some(((p.partition - r.scope.start).num_days(), p.metrics.get(i)?.percent()?))).collect();
    let expected = r.metric_definitions[i].expected_delta;
    let (mut lo, mut hi) = points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, d)| (lo.min(*d), hi.max(*d)));
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
            area.draw_series(std::iter::once(Rectangle::new([(0, e.low), (span, e.high)], RGBColor(22, 163, 74).mix(0.15).filled())))?
                .label("expected range")
                .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], RGBColor(22, 163, 74).mix(0.3).filled()));
        }
        area.draw_series(points.iter().map(|(x, d)| Circle::new((*x, *d), 2, RGBColor(37, 99, 235).filled())))?
            .label("delta % of a partition")
            .legend(|(x, y)| Circle::new((x + 9, y), 3, RGBColor(37, 99, 235).filled()));
        Ok(())
    })
}

type Area<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordi64, plotters::coord::types::RangedCoordf64>>;

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

/// A table as HTML; "None." when empty.
fn table(t: &Table) -> String {
    if t.rows.is_empty() {
        return "<p>None.</p>".into();
    }
    let mut o = String::from("<div class=\"scroll\"><table><tr>");
    for c in &t.columns {
        let _ = write!(o, "<th>{}</th>", esc(c));
    }
    o.push_str("</tr>\n");
    for row in &t.rows {
        o.push_str("<tr>");
        for c in row {
            let _ = write!(o, "<td>{}</td>", esc(c));
        }
        o.push_str("</tr>\n");
    }
    o + "</table></div>"
}

/// Escape text for HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
