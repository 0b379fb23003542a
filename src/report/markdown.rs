//! The report as Markdown, for a pull request or a ticket.

use std::fmt::Write;

use super::Report;
use crate::number::{count, or_null, percent};
use crate::reconcile::Table;

/// Render `r` as GitHub-flavoured Markdown.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.scope;
    let _ = writeln!(o, "# Backfill report: {}\n", r.backfill_id);
    let _ = writeln!(o, "**{}**: {} ({}), owner {}\n", r.reason.issue, r.reason.change, r.reason.kind, r.owner);
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| base table | `{}` |", s.table);
    let _ = writeln!(o, "| scope | `{}` {}..{}: {} partitions |", s.partition_key, s.start, s.end, count(s.partitions as u64));
    let _ = writeln!(o, "| shadow / view | `{}` → `{}` |", s.shadow, s.view);
    let _ = writeln!(o, "| plan fingerprint | `{}` |", r.fingerprint);
    let state =
        if r.complete { "complete".to_string() } else { format!("INCOMPLETE: figures cover {} of {} batches", r.batches_done, r.batches) };
    let _ = writeln!(o, "| batches | {} of {} done ({state}) |", r.batches_done, r.batches);
    for (b, why) in &r.batches_failed {
        let _ = writeln!(o, "| failed batch {b} | {} |", cell(why));
    }

    let _ = writeln!(o, "\n## Gates\n\n| gate | result | detail |\n|---|---|---|");
    for g in &r.gates {
        let word = if g.passed() { "pass".to_string() } else { format!("**{}**", g.verdict.word()) };
        let _ = writeln!(o, "| {} | {word} | {} |", g.name, cell(&g.detail));
    }

    let _ = writeln!(o, "\n## Metrics over the whole range\n");
    match &r.metrics_pending {
        Some(why) => {
            let _ = writeln!(o, "Not yet: {why}.");
        }
        None => {
            let _ = writeln!(o, "One query over every base row and one over every shadow row in range.\n");
            let _ =
                writeln!(o, "| metric | sql | old | new | delta | delta % | expected | verdict |\n|---|---|---:|---:|---:|---:|---|---|");
            for m in &r.metrics {
                let verdict = match m.within {
                    Some(true) => "inside",
                    Some(false) => "**OUTSIDE**",
                    None => "",
                };
                let expected = m.expected.map_or(String::new(), |e| e.to_string());
                let _ = writeln!(
                    o,
                    "| {} | `{}` | {} | {} | {} | {} | {expected} | {verdict} |",
                    m.name,
                    cell(&m.sql),
                    or_null(m.old.as_ref()),
                    or_null(m.new.as_ref()),
                    or_null(m.delta.as_ref()),
                    percent(m.percent)
                );
            }
        }
    }
    let c = &r.rows;
    let _ = writeln!(
        o,
        "\nRows: {} unchanged, {} changed, {} added, {} removed.",
        count(c.unchanged),
        count(c.changed),
        count(c.added),
        count(c.removed)
    );
    if !r.comparisons.is_empty() {
        let _ = writeln!(o, "\nValues compared (keys matched NULL-safely):\n");
        for line in &r.comparisons {
            let _ = writeln!(o, "- {line}");
        }
    }

    if !r.batch_metrics.is_empty() && !r.metric_definitions.is_empty() {
        let _ = writeln!(o, "\n## Metrics per batch\n\nEach batch's own aggregate over its rows: delta % per metric.\n");
        let names: Vec<&str> = r.metric_definitions.iter().map(|m| m.name.as_str()).collect();
        let _ = writeln!(o, "| batch | partitions | {} |\n|---:|---|{}", names.join(" | "), "---:|".repeat(names.len()));
        for b in &r.batch_metrics {
            let cells: Vec<String> = b.metrics.iter().map(|p| percent(p.percent())).collect();
            let _ = writeln!(o, "| {} | {}..{} | {} |", b.batch, b.first, b.last, cells.join(" | "));
        }
    }

    let _ = writeln!(o, "\n## Outliers\n");
    if r.outliers.is_empty() {
        let _ = writeln!(o, "None: no partition's delta lies far outside the expected range.");
    } else {
        let _ = writeln!(o, "Each partition's own values.\n\n| partition | metric | old | new | delta % |\n|---|---|---:|---:|---:|");
        for x in &r.outliers {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                x.partition,
                x.metric,
                or_null(x.pair.old.as_ref()),
                or_null(x.pair.new.as_ref()),
                percent(x.percent)
            );
        }
    }
    let _ = writeln!(o, "\n## Largest changes\n\n{}", table(&r.top_changes));
    let _ = writeln!(o, "## Unchanged rows (sample)\n\n{}", table(&r.unchanged_sample));
    let _ = writeln!(o, "## Added rows (sample)\n\n{}", table(&r.added_sample));
    let _ = writeln!(o, "## Removed rows (sample)\n\n{}", table(&r.removed_sample));
    let list = super::date_list;
    let _ = writeln!(
        o,
        "## Skipped partitions\n\n- excluded: {}\n- without source data: {}\n",
        list(&r.skipped.excluded),
        list(&r.skipped.without_source)
    );
    let _ = writeln!(o, "## Downstream dependents\n");
    if r.downstream.is_empty() {
        let _ = writeln!(o, "None found.");
    }
    for d in &r.downstream {
        let _ = writeln!(o, "- {d}");
    }
    o
}

/// A table as Markdown; "None." when it has no rows.
fn table(t: &Table) -> String {
    if t.rows.is_empty() {
        return "None.\n".into();
    }
    let mut o = format!("| {} |\n|{}\n", t.columns.join(" | "), "---|".repeat(t.columns.len()));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    o
}

/// A cell with `|` and line breaks escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}
