//! The report templates on a small hand-made report: what a reviewer reads.

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::NaiveDate;

use super::super::{html, markdown, MetricTotal, Report, Scope, Skipped, SCHEMA_VERSION};
use crate::number::Number;
use crate::reconcile::Table;
use crate::reconcile::{Gate, GateKind, MetricPair, RowClasses, Verdict};
use crate::spec::{DeltaRange, Metric, Reason, ReasonKind};

fn exact(text: &str) -> Option<Number> {
    Some(Number::Exact(BigDecimal::from_str(text).unwrap()))
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// A report with user text that needs escaping in both formats.
fn report() -> Report {
    let expected = Some(DeltaRange { low: -1.5, high: -0.8 });
    let (change, name) = ("<script>alert('x')</script> & more", "net".to_string());
    Report {
        schema_version: SCHEMA_VERSION,
        backfill_id: "fix-1".into(),
        owner: "finance <data>".into(),
        reason: Reason { issue: "FIN-1".into(), change: change.into(), kind: ReasonKind::Recompute },
        scope: Scope {
            table: "finance.daily_revenue".into(),
            shadow: "finance.daily_revenue_v2".into(),
            view: "finance.daily_revenue_current".into(),
            partition_key: "revenue_date".into(),
            start: date("2024-12-01"),
            end: date("2024-12-07"),
            partitions: 1234,
        },
        fingerprint: "abc".into(),
        batches: 2,
        batches_done: 1,
        batches_failed: vec![(2, "a | b\nc".into())],
        complete: false,
        gates: vec![Gate { name: GateKind::UniqueKeys, verdict: Verdict::Fail, detail: "2 key(s) <dup>".into() }],
        metric_definitions: vec![Metric {
            name,
            sql: "sum(x)".into(),
            expected_delta: expected,
            batch_expected_delta: None,
        }],
        metrics: Vec::new(),
        metrics_pending: Some("computed when the last batch is done (1 of 2 batches done)".into()),
        batch_metrics: Vec::new(),
        comparisons: vec!["x (DECIMAL(18, 2)): exactly equal".into()],
        rows: RowClasses { unchanged: 1000, changed: 2345, added: 0, removed: 1 },
        outliers: Vec::new(),
        top_changes: Table { columns: vec!["k".into(), "v".into()], rows: vec![vec!["1".into(), "<a|b>".into()]] },
        unchanged_sample: Table::default(),
        added_sample: Table::default(),
        removed_sample: Table::default(),
        skipped: Skipped { excluded: vec![date("2024-12-03")], without_source: Vec::new() },
        downstream: Vec::new(),
        partitions: Vec::new(),
        dry_run: None,
    }
}

#[test]
fn markdown_formats_figures_in_rust_and_escapes_table_cells() {
    let md = markdown::render(&report()).unwrap();
    assert!(md.starts_with("# Backfill report: fix-1\n\n**FIN-1**: <script>"), "{md}");
    assert!(md.contains("| scope | `revenue_date` 2024-12-01..2024-12-07: 1,234 partitions |"), "{md}");
    let batches = "| batches | 1 of 2 done (INCOMPLETE: figures cover 1 of 2 batches) |\n";
    assert!(md.contains(&format!("{batches}| failed batch 2 | a \\| b c |\n")), "{md}");
    assert!(md.contains("| unique_keys | **FAIL** | 2 key(s) <dup> |"), "{md}");
    assert!(md.contains("Not yet: computed when the last batch is done (1 of 2 batches done).\n"), "{md}");
    assert!(md.contains("Rows: 1,000 unchanged, 2,345 changed, 0 added, 1 removed.\n"), "{md}");
    let largest = "## Largest changes\n\n| k | v |\n|---|---|\n| 1 | <a\\|b> |\n\n";
    assert!(md.contains(&format!("{largest}## Unchanged rows (sample)\n\nNone.\n")), "{md}");
    assert!(md.contains("- excluded: 2024-12-03\n- without source data: none\n"), "{md}");
    assert!(md.ends_with("## Downstream dependents\n\nNone found.\n"), "{md}");
}

#[test]
fn html_escapes_every_user_supplied_text() {
    let html = html::render(&report()).unwrap();
    assert!(!html.contains("<script>") && !html.contains("<dup>") && !html.contains("<a|b>"), "{html}");
    let change = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; more";
    assert!(html.contains(&format!("<p><b>FIN-1</b>: {change}")), "{html}");
    assert!(html.contains("owner finance &lt;data&gt;</p>"), "{html}");
    assert!(html.contains("<td>2 key(s) &lt;dup&gt;</td>"), "{html}");
    assert!(html.contains("<p class=\"bad\">Incomplete: the figures cover 1 of 2 batches.</p>"), "{html}");
    assert!(html.contains("<td><code>revenue_date</code> 2024-12-01 .. 2024-12-07: 1,234 partitions</td>"), "{html}");
    assert_eq!(html.matches("<svg").count(), 2, "one values chart and one delta chart");
}

#[test]
fn figures_and_ranges_come_from_the_number_module() {
    let mut r = report();
    r.metrics_pending = None;
    r.complete = true;
    r.batches_done = 2;
    let metric = &r.metric_definitions[0];
    let pair = MetricPair { old: exact("28164536.16"), new: exact("27860857.31") };
    r.metrics = vec![MetricTotal::new(metric, pair, None, Some(Verdict::Pass))];
    let md = markdown::render(&r).unwrap();
    let row = "| net | `sum(x)` | 28,164,536.16 | 27,860,857.31 | -303,678.85 | -1.08 % | -1.5 % to -0.8 % | inside |";
    assert!(md.contains(row), "{md}");
    let html = html::render(&r).unwrap();
    let cells = "<td class=\"n\">-303,678.85</td><td class=\"n good\">-1.08 %</td><td>-1.5 % to -0.8 %</td>";
    assert!(html.contains(cells), "{html}");
}
