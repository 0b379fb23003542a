//! `backfill run SPEC` (the dry run) on the fixture: what it reports, that it writes
//! nothing, and that a transform whose output does not fit the base is refused.

use crate::common::{backfill, root, tree_digest, warehouse_copy};

/// The fixture spec with `from` replaced by `to`, written into `dir`, pointed at `wh`.
fn variant(dir: &std::path::Path, wh: &std::path::Path, from: &str, to: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(root().join("specs/revenue-tax-fix.yaml")).unwrap();
    assert!(text.contains(from), "fixture spec lacks {from}");
    let text = text.replace(from, to).replace("warehouse: ../fixtures/warehouse", &format!("warehouse: {}", wh.display()));
    let path = dir.join("variant.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn dry_run_reports_classes_and_deltas_and_writes_nothing() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let out = backfill().args(["run", "specs/revenue-tax-fix.yaml", "--format", "json", "--warehouse"]).arg(wh.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree_digest(wh.path()), before, "the dry run changed the warehouse");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sampled: Vec<&str> = r["sampled"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(sampled, ["2024-12-01", "2024-12-31", "2025-01-01", "2025-05-31", "2025-08-30", "2026-05-31"]);
    // Merchants 1, 6, 11 and 16 were charged exactly the 7 % the bug assumed: 4 of 20
    // rows a day are unchanged, 16 changed; no keys appear or vanish.
    assert_eq!(r["classes"], serde_json::json!({"unchanged": 24, "changed": 96, "added": 0, "removed": 0}));
    let m = &r["metrics"][0];
    assert_eq!(m["name"], "net_revenue");
    let pct = m["percent"].as_f64().unwrap();
    assert!((-1.5..=-0.8).contains(&pct), "delta {pct}% outside the expected range");
    assert!(m["new"].as_f64().unwrap() < m["old"].as_f64().unwrap());
    assert_eq!(r["deterministic"], true);
    assert_eq!(r["excluded"], serde_json::json!(["2025-12-25"]));
    assert_eq!(r["changed_rows"]["rows"].as_array().unwrap().len(), 20);
    // The largest change comes first.
    let first = &r["changed_rows"]["rows"][0];
    let change = |row: &serde_json::Value| (row[5].as_str().unwrap().parse::<f64>().unwrap() - row[4].as_str().unwrap().parse::<f64>().unwrap()).abs();
    assert!(r["changed_rows"]["rows"].as_array().unwrap().iter().all(|row| change(row) <= change(first)));
}

#[test]
fn dry_run_text_ends_with_the_command_that_executes() {
    let out = backfill().args(["run", "specs/revenue-tax-fix.yaml", "--sample", "2"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("sampled         2 of 546 partitions: 2024-12-01, 2026-05-31"), "{text}");
    assert!(text.contains("expected -1.5% to -0.8%: inside"), "{text}");
    assert!(text.contains("gates on the sample:") && text.contains("pass unique_keys") && text.contains("pass expected_delta:net_revenue"), "{text}");
    assert!(text.trim_end().ends_with("backfill run specs/revenue-tax-fix.yaml --execute"), "{text}");
}

#[test]
fn dry_run_shows_sample_rows_of_added_and_removed_keys() {
    let wh = warehouse_copy();
    let dir = tempfile::tempdir().unwrap();
    // Merchant 20 renumbered as 21: in every sampled partition one key vanishes and one appears.
    let spec = variant(dir.path(), wh.path(), "SELECT revenue_date, merchant_id,", "SELECT revenue_date, CASE WHEN merchant_id = 20 THEN 21 ELSE merchant_id END AS merchant_id,");
    let out = backfill().args(["run"]).arg(&spec).args(["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["classes"], serde_json::json!({"unchanged": 24, "changed": 90, "added": 6, "removed": 6}));
    let rows = |field: &str| -> Vec<(String, String)> { r[field]["rows"].as_array().unwrap().iter().map(|row| (row[0].as_str().unwrap().to_string(), row[1].as_str().unwrap().to_string())).collect() };
    let days = ["2024-12-01", "2024-12-31", "2025-01-01", "2025-05-31", "2025-08-30", "2026-05-31"];
    assert_eq!(rows("added_rows"), days.iter().map(|d| (d.to_string(), "21".to_string())).collect::<Vec<_>>());
    assert_eq!(rows("removed_rows"), days.iter().map(|d| (d.to_string(), "20".to_string())).collect::<Vec<_>>());
    assert_eq!(r["added_rows"]["columns"], serde_json::json!(["revenue_date", "merchant_id", "gross_revenue", "net_revenue"]));

    let text = backfill().args(["run"]).arg(&spec).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    let added = text.split("added rows (up to 20):\n").nth(1).unwrap();
    assert_eq!(added.lines().nth(1).unwrap().split_whitespace().take(2).collect::<Vec<_>>(), ["2024-12-01", "21"], "{text}");
    assert!(text.contains("removed rows (up to 20):\n  revenue_date  merchant_id  gross_revenue  net_revenue\n  2024-12-01    20 "), "{text}");
}

#[test]
fn non_deterministic_transform_is_reported() {
    let wh = warehouse_copy();
    let dir = tempfile::tempdir().unwrap();
    let spec = variant(dir.path(), wh.path(), "gross_revenue - tax_amount AS net_revenue", "gross_revenue - tax_amount * CAST(random() AS DECIMAL(18, 2)) AS net_revenue");
    let out = backfill().args(["run"]).arg(&spec).args(["--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["deterministic"], false);
}

#[test]
fn transform_output_that_does_not_fit_the_base_exits_2_before_anything_runs() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("gross_revenue - tax_amount AS net_revenue", "gross_revenue - tax_amount AS net", "column `net_revenue` is missing; column `net` is not in the base table"),
        ("gross_revenue - tax_amount AS net_revenue", "gross_revenue - tax_amount AS net_revenue, tax_amount", "column `tax_amount` is not in the base table"),
        ("gross_revenue - tax_amount AS net_revenue", "make_array(1, 2) AS net_revenue", "column `net_revenue` is List"),
        ("SELECT revenue_date, merchant_id", "SELECT CAST(NULL AS DATE) AS revenue_date, merchant_id", "rows whose partition key `revenue_date` is NULL"),
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
