//! `backfill run SPEC` (the dry run) on the fixture: exact over the whole range under the
//! budget, a month-stratified sample with an interval over it; that it writes nothing,
//! and that a transform whose output does not fit the base is refused.

use crate::common::seasonal::{independent, scalar_text};
use crate::common::{backfill, grouped, root, tree_digest, warehouse_copy};

/// The fixture spec with `from` replaced by `to`, written into `dir`, pointed at `wh`.
fn variant(dir: &std::path::Path, wh: &std::path::Path, from: &str, to: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join("specs/revenue-tax-fix.yaml")).unwrap();
    assert!(text.contains(from), "fixture spec lacks {from}");
    let text =
        text.replace(from, to).replace("warehouse: ../fixtures/warehouse", &format!("warehouse: {}", wh.display()));
    let path = dir.join("variant.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn dry_run_under_budget_evaluates_the_whole_range_exactly_and_writes_nothing() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let out = backfill()
        .args(["run", "specs/revenue-tax-fix.yaml", "--format", "json", "--warehouse"])
        .arg(wh.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree_digest(wh.path()), before, "the dry run changed the warehouse");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["dry_run"]["coverage"], "whole_range");
    assert_eq!(r["dry_run"]["evaluated"].as_array().unwrap().len(), 546);
    // Merchants 1, 6, 11 and 16 were charged exactly the 7 % the bug assumed: 4 of 20
    // rows a day are unchanged, 16 changed; no keys appear or vanish.
    assert_eq!(r["rows"], serde_json::json!({"unchanged": 2184, "changed": 8736, "added": 0, "removed": 0}));
    // Exact decimals, the same figures `run --execute` reports (tests/reconcile.rs).
    let m = &r["metrics"][0];
    assert_eq!(
        (m["name"].as_str(), m["old"].as_str(), m["new"].as_str()),
        (Some("net_revenue"), Some("28164536.16"), Some("27860857.31"))
    );
    assert_eq!(m["interval"], serde_json::Value::Null);
    assert_eq!(m["verdict"], "pass");
    assert_eq!(r["dry_run"]["deterministic"], true);
    assert_eq!(r["skipped"]["excluded"], serde_json::json!(["2025-12-25"]));
    assert_eq!(r["top_changes"]["rows"].as_array().unwrap().len(), 20);
    // The largest change comes first.
    let first = &r["top_changes"]["rows"][0];
    let change = |row: &serde_json::Value| {
        (row[5].as_str().unwrap().parse::<f64>().unwrap() - row[4].as_str().unwrap().parse::<f64>().unwrap()).abs()
    };
    assert!(r["top_changes"]["rows"].as_array().unwrap().iter().all(|row| change(row) <= change(first)));
}

#[test]
fn dry_run_over_budget_samples_every_month_and_reports_an_interval_around_the_true_delta() {
    let out = backfill()
        .args(["run", "specs/revenue-tax-fix.yaml", "--format", "json", "--dry-run-budget", "1KiB"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["dry_run"]["coverage"], "sample");
    let evaluated: Vec<&str> =
        r["dry_run"]["evaluated"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    // 18 months from 2024-12 to 2026-05, two partitions each (the default 24 is fewer).
    assert_eq!(evaluated.len(), 36, "{evaluated:?}");
    let months: std::collections::BTreeSet<&str> = evaluated.iter().map(|d| &d[..7]).collect();
    assert_eq!(months.len(), 18);
    let m = &r["metrics"][0];
    let [lo, hi] = [m["interval"][0].as_f64().unwrap(), m["interval"][1].as_f64().unwrap()];
    // The true whole-range delta is -1.0782 % (28,164,536.16 → 27,860,857.31).
    assert!(lo <= -1.0782 && -1.0782 <= hi, "interval {lo}..{hi}");
    assert!(lo < hi && hi - lo < 0.5, "interval {lo}..{hi}");

    let text = backfill().args(["run", "specs/revenue-tax-fix.yaml", "--dry-run-budget", "1KiB"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("evaluated       a sample of 36 of 546 partitions, every month represented"), "{text}");
    assert!(
        text.contains("over the sample (-1.")
            && text.contains(", 95 % interval ")
            && text.contains(", 36 of 546 partitions)"),
        "{text}"
    );
}

#[test]
fn dry_run_text_ends_with_the_command_that_executes() {
    let out = backfill().args(["run", "specs/revenue-tax-fix.yaml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("evaluated       the whole range, 546 partitions (estimated scan "), "{text}");
    assert!(text.contains("rows            2,184 unchanged, 8,736 changed, 0 added, 0 removed"), "{text}");
    assert!(
        text.contains("net_revenue     28,164,536.16 → 27,860,857.31 (-1.08 %); expected -1.5 % to -0.8 %: inside"),
        "{text}"
    );
    assert!(
        text.contains("pass  unique_keys")
            && text.contains(
                "pass  expected_delta:net_revenue  whole range net_revenue 28,164,536.16 → 27,860,857.31 \
                 (-1.08 %) over 546 partitions"
            ),
        "{text}"
    );
    assert!(text.trim_end().ends_with("backfill run specs/revenue-tax-fix.yaml --execute"), "{text}");
}

#[test]
fn dry_run_prints_the_report_a_reviewer_reads_after_a_run_before_anything_is_written() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let md = |extra: &[&str]| {
        let out = backfill()
            .args(["run", "specs/revenue-tax-fix.yaml", "--format", "md", "--warehouse"])
            .arg(wh.path())
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let whole = md(&[]);
    assert!(whole.starts_with("# Backfill report: revenue-tax-fix-2026-06\n"), "{whole}");
    assert!(
        whole
            .contains("| dry run | nothing was written; evaluated in memory: the whole range, the figures are exact |"),
        "{whole}"
    );
    assert!(whole.contains("## Metrics over the whole range\n"), "{whole}");
    // The figures against plain SQL over the files: the base's net revenue in range, and
    // the corrected net revenue recomputed from the source events (gross − tax).
    let range = "revenue_date BETWEEN DATE '2024-12-01' AND DATE '2026-05-31' AND revenue_date <> DATE '2025-12-25'";
    let (old, new) = (
        format!("SELECT sum(net_revenue) AS v FROM finance.daily_revenue WHERE {range}"),
        format!("SELECT sum(gross_revenue - tax_amount) AS v FROM staging.revenue_events WHERE {range}"),
    );
    let figure = |sql: &str| grouped(&scalar_text(&independent(wh.path(), sql), "v"));
    let delta = figure(&format!("SELECT ({new}) - ({old}) AS v"));
    let row = format!(
        "| net_revenue | `sum(net_revenue)` | {} | {} | {delta} | -1.08 % | -1.5 % to -0.8 % | inside |",
        figure(&old),
        figure(&new)
    );
    assert!(whole.contains(&row), "{row}\n{whole}");
    assert!(whole.contains("Rows: 2,184 unchanged, 8,736 changed, 0 added, 0 removed."), "{whole}");
    let sample = md(&["--dry-run-budget", "1KiB"]);
    assert!(sample.contains("a sample of 36 of 546 partitions, every month represented"), "{sample}");
    assert!(sample.contains("## Metrics over the sample (estimates)\n"), "{sample}");
    assert!(sample.contains("| net_revenue | `sum(net_revenue)` | "), "{sample}");
    assert!(sample.contains(" (95 %: -1."), "{sample}");
    let html = backfill()
        .args(["run", "specs/revenue-tax-fix.yaml", "--format", "html", "--warehouse"])
        .arg(wh.path())
        .output()
        .unwrap();
    let html = String::from_utf8(html.stdout).unwrap();
    assert!(html.contains("<p>Dry run: nothing was written. The transform was evaluated in memory over"), "{html}");
    assert!(html.contains("<h2>net_revenue per partition</h2>") && html.contains("<svg"), "the charts are drawn");
    assert_eq!(tree_digest(wh.path()), before, "the dry run changed the warehouse");
}

#[test]
fn dry_run_shows_sample_rows_of_added_and_removed_keys() {
    let wh = warehouse_copy();
    let dir = tempfile::tempdir().unwrap();
    // Merchant 20 renumbered as 21: in every partition one key vanishes and one appears.
    let spec = variant(
        dir.path(),
        wh.path(),
        "SELECT revenue_date, merchant_id,",
        "SELECT revenue_date, CASE WHEN merchant_id = 20 THEN 21 ELSE merchant_id END AS merchant_id,",
    );
    let out = backfill().args(["run"]).arg(&spec).args(["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["rows"], serde_json::json!({"unchanged": 2184, "changed": 8190, "added": 546, "removed": 546}));
    let rows = |field: &str| -> Vec<(String, String)> {
        r[field]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| (row[0].as_str().unwrap().to_string(), row[1].as_str().unwrap().to_string()))
            .collect()
    };
    let days: Vec<String> = (1..=20).map(|d| format!("2024-12-{d:02}")).collect();
    assert_eq!(rows("added_sample"), days.iter().map(|d| (d.clone(), "21".to_string())).collect::<Vec<_>>());
    assert_eq!(rows("removed_sample"), days.iter().map(|d| (d.clone(), "20".to_string())).collect::<Vec<_>>());
    assert_eq!(
        r["added_sample"]["columns"],
        serde_json::json!(["revenue_date", "merchant_id", "gross_revenue", "net_revenue"])
    );

    let text = backfill().args(["run"]).arg(&spec).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let added = text.split("added rows (up to 20):\n").nth(1).unwrap();
    assert_eq!(
        added.lines().nth(1).unwrap().split_whitespace().take(2).collect::<Vec<_>>(),
        ["2024-12-01", "21"],
        "{text}"
    );
    assert!(
        text.contains(
            "removed rows (up to 20):\n  revenue_date  merchant_id  gross_revenue  net_revenue\n  2024-12-01    20 "
        ),
        "{text}"
    );
}

#[test]
fn non_deterministic_transform_is_reported() {
    let wh = warehouse_copy();
    let dir = tempfile::tempdir().unwrap();
    let spec = variant(
        dir.path(),
        wh.path(),
        "gross_revenue - tax_amount AS net_revenue",
        "gross_revenue - tax_amount * CAST(random() AS DECIMAL(18, 2)) AS net_revenue",
    );
    let out = backfill().args(["run"]).arg(&spec).args(["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["dry_run"]["deterministic"], false);
}

#[test]
fn transform_output_that_does_not_fit_the_base_exits_2_before_anything_runs() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "gross_revenue - tax_amount AS net_revenue",
            "gross_revenue - tax_amount AS net",
            "column `net_revenue` is missing; column `net` is not in the base table",
        ),
        (
            "gross_revenue - tax_amount AS net_revenue",
            "gross_revenue - tax_amount AS net_revenue, tax_amount",
            "column `tax_amount` is not in the base table",
        ),
        (
            "gross_revenue - tax_amount AS net_revenue",
            "make_array(1, 2) AS net_revenue",
            "column `net_revenue` is List",
        ),
        (
            "SELECT revenue_date, merchant_id",
            "SELECT CAST(NULL AS DATE) AS revenue_date, merchant_id",
            "rows whose partition key `revenue_date` is NULL",
        ),
    ];
    for (from, to, message) in cases {
        let spec = variant(dir.path(), wh.path(), from, to);
        let out = backfill().arg("run").arg(&spec).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{to}: {stderr}");
        assert!(stderr.contains(message), "{to}: wanted `{message}` in {stderr}");
        assert!(stderr.contains("variant.yaml:"), "{stderr}");
        assert_eq!(tree_digest(wh.path()), before);
    }
}
