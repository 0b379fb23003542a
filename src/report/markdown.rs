//! The report as Markdown, for a pull request or a ticket.

use std::fmt::Write;

use super::Report;
use crate::execute::Table;
use crate::reconcile::gates::{fmt_num, fmt_pct};

/// Render `r` as GitHub-flavoured Markdown.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let s = &r.scope;
    let _ = writeln!(o, "# Backfill report: {}\n", r.backfill_id);
    let _ = writeln!(o, "**{}**: {} ({}), owner {}\n", r.reason.issue, r.reason.change, r.reason.kind, r.owner);
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| base table | `{}` |", s.table);
    let _ = writeln!(o, "| scope | `{}` {}..{}: {} partitions |", s.partition_key, s.start, s.end, s.partitions);
    let _ = writeln!(o, "| shadow / view | `{}` → `{}` |", s.shadow, s.view);
    let _ = writeln!(o, "| plan fingerprint | `{}` |", r.fingerprint);
    let state = if r.complete { "complete".to_string() } else { format!("INCOMPLETE: figures cover {} of {} batches", r.batches_done, r.batches) };
    let _ = writeln!(o, "| batches | {} of {} done ({state}) |", r.batches_done, r.batches);
    for (b, why) in &r.batches_failed {
        let _ = writeln!(o, "| failed batch {b} | {} |", cell(why));
    }

    let _ = writeln!(o, "\n## Gates\n\n| gate | result | detail |\n|---|---|---|");
    for g in &r.gates {
        let _ = writeln!(o, "| {} | {} | {} |", g.name, if g.passed { "pass" } else { "**FAIL**" }, cell(&g.detail));
    }

    let _ = writeln!(o, "\n## Metrics\n\n| metric | old | new | delta | delta % | expected | verdict |\n|---|---:|---:|---:|---:|---|---|");
    for m in &r.metrics {
        let verdict = match m.within {
            Some(true) => "inside",
            Some(false) => "**OUTSIDE**",
            None => "",
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {verdict} |",
            m.name,
            fmt_num(m.old),
            fmt_num(m.new),
            fmt_num(m.delta),
            fmt_pct(m.percent),
            m.expected.map_or(String::new(), |e| e.to_string())
        );
    }
    let c = &r.rows;
    let _ = writeln!(o, "\nRows: {} unchanged, {} changed, {} added, {} removed.", c.unchanged, c.changed, c.added, c.removed);

    let _ = writeln!(o, "\n## Outliers\n");
    if r.outliers.is_empty() {
        let _ = writeln!(o, "None: no partition's delta lies far outside the expected range.");
    } else {
        let _ = writeln!(o, "| partition | metric | old | new | delta % |\n|---|---|---:|---:|---:|");
        for x in &r.outliers {
            let _ = writeln!(o, "| {} | {} | {} | {} | {} |", x.partition, x.metric, fmt_num(x.pair.old), fmt_num(x.pair.new), fmt_pct(x.percent));
        }
    }
    let _ = writeln!(o, "\n## Largest changes\n\n{}", table(&r.top_changes));
    let _ = writeln!(o, "## Unchanged rows (sample)\n\n{}", table(&r.unchanged_sample));
    let _ = writeln!(o, "## Added rows (sample)\n\n{}", table(&r.added_sample));
    let _ = writeln!(o, "## Removed rows (sample)\n\n{}", table(&r.removed_sample));
    let list = |v: &[chrono::NaiveDate]| if v.is_empty() { "none".to_string() } else { v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ") };
    let _ = writeln!(o, "## Skipped partitions\n\n- excluded: {}\n- without source data: {}\n", list(&r.skipped.excluded), list(&r.skipped.without_source));
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
