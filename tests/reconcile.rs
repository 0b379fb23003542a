//! Reconciliation gates and reports on copies of the fixture: the real fix passes every
//! gate, a wrong expectation, duplicated keys and dropped rows each stop the run with
//! exit 1, and the report says which gate failed and by how much.

use std::path::Path;

use crate::common::{backfill, warehouse_copy};
use crate::execute::{execute, spec_for};

const ID: &str = "revenue-tax-fix-2026-06";

fn report(spec: &Path, format: &str) -> String {
    let out = backfill().arg("report").arg(spec).args(["--format", format]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_real_fix_passes_every_gate_and_the_report_shows_the_delta_inside_the_range() {
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &[]);
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let md = report(&spec, "md");
    for gate in ["row_count_tolerance", "unique_keys", "not_null", "schema", "expected_delta:net_revenue"] {
        assert!(md.contains(&format!("| {gate} | pass |")), "{gate} not passed:\n{md}");
    }
    assert!(md.contains("| net_revenue | 28164536.16 | 27860857.31 | -303678.85 | -1.078% | -1.5% to -0.8% | inside |"), "{md}");
    assert!(md.contains("| batches | 78 of 78 done (complete) |"), "{md}");
    assert!(md.contains("- excluded: 2025-12-25"), "{md}");
    assert!(md.contains("- reporting.revenue_by_month (catalog view)") && md.contains("- dashboard:finance-revenue (declared)"), "{md}");

    let json: serde_json::Value = serde_json::from_str(&report(&spec, "json")).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["partitions"].as_array().unwrap().len(), 546);
    assert_eq!(json["rows"], serde_json::json!({"unchanged": 2184, "changed": 8736, "added": 0, "removed": 0}));
    assert!(json["gates"].as_array().unwrap().iter().all(|g| g["passed"] == true));

    let out = backfill().arg("report").arg(&spec).args(["--format", "html"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(wh.path().join("_backfills").join(ID).join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && !html.contains("<script") && !html.contains("src=\"http"), "not self-contained");
    assert_eq!(html.matches("<svg").count(), 2, "one values chart and one delta chart");
    assert!(html.contains("net_revenue: base (old) vs shadow (new)") && html.contains("<polyline"), "the values chart has no lines");
}

#[test]
fn an_expected_range_that_excludes_the_true_delta_stops_at_the_first_batch_with_exit_1() {
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &[("expected_delta: \"-1.5% to -0.8%\"", "expected_delta: \"-0.5% to +0.5%\""), ("max_concurrency: 2", "max_concurrency: 1")]);
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("batch 1 failed its gate: expected_delta:net_revenue: cumulative net_revenue 34106"), "{stderr}");
    assert!(stderr.contains("expected -0.5% to +0.5%: outside by 0.700 percentage points"), "{stderr}");
    let batches = wh.path().join("_backfills").join(ID).join("batches");
    assert_eq!(std::fs::read_dir(&batches).unwrap().count(), 1, "the run went on after the failed batch");
    let checkpoint: serde_json::Value = serde_json::from_slice(&std::fs::read(batches.join("0001.json")).unwrap()).unwrap();
    assert_eq!(checkpoint["state"], "failed");

    let md = report(&spec, "md");
    assert!(md.contains("| expected_delta:net_revenue | **FAIL** | batch 1: cumulative net_revenue"), "{md}");
    assert!(md.contains("outside by 0.700 percentage points") && md.contains("INCOMPLETE: figures cover 0 of 78 batches"), "{md}");

    // Fix the expectation; --restart begins again (the plan changed) and passes.
    let fixed = spec_for(wh.path(), &[("max_concurrency: 2", "max_concurrency: 1")]);
    let out = execute(&fixed, &["--restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_transform_that_duplicates_keys_fails_unique_keys_with_exit_1() {
    let wh = warehouse_copy();
    let spec = spec_for(
        wh.path(),
        &[
            ("    WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }}\n", "    WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }}\n    UNION ALL\n    SELECT revenue_date, merchant_id, gross_revenue, gross_revenue - tax_amount AS net_revenue\n    FROM staging.revenue_events\n    WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }} AND merchant_id = 7\n"),
            ("row_count_tolerance: 0", "row_count_tolerance: \"10%\""),
        ],
    );
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failed its gate: unique_keys: 7 key(s) occur more than once in the shadow, e.g. (2024-12"), "{stderr}");
    assert!(!stderr.contains("row_count_tolerance"), "only unique_keys should fail: {stderr}");
}
