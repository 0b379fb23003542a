//! Reconciliation gates and reports on copies of the fixture: the real fix passes every
//! gate; a whole-range expectation the range misses fails the run once every batch is
//! done and publish refuses; a per-batch expectation stops at the batch; duplicated keys
//! and dropped rows each stop the run with exit 1; the report says which gate failed and
//! by how much.

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
    // The whole-range figures the report prints, by an independent query over the files.
    let range = "revenue_date BETWEEN DATE '2024-12-01' AND DATE '2026-05-31' AND revenue_date <> DATE '2025-12-25'";
    let sum = |table: &str| {
        crate::common::seasonal::scalar_text(
            &crate::common::seasonal::independent(
                wh.path(),
                &format!("SELECT sum(net_revenue) AS v FROM {table} WHERE {range}"),
            ),
            "v",
        )
    };
    assert_eq!(
        (sum("finance.daily_revenue"), sum("finance.daily_revenue_v2")),
        ("28164536.16".to_string(), "27860857.31".to_string())
    );
    for gate in ["row_count_tolerance", "unique_keys", "not_null", "schema", "expected_delta:net_revenue"] {
        assert!(md.contains(&format!("| {gate} | pass |")), "{gate} not passed:\n{md}");
    }
    assert!(
        md.contains(
            "| net_revenue | `sum(net_revenue)` | 28,164,536.16 | 27,860,857.31 | \
             -303,678.85 | -1.08 % | -1.5 % to -0.8 % | inside |"
        ),
        "{md}"
    );
    assert!(md.contains("| 1 | 2024-12-01..2024-12-07 | -1.20 % |"), "each batch's own delta: {md}");
    assert!(md.contains("| batches | 78 of 78 done (complete) |"), "{md}");
    assert!(md.contains("- excluded: 2025-12-25"), "{md}");
    assert!(
        md.contains("- reporting.revenue_by_month (catalog view)")
            && md.contains("- dashboard:finance-revenue (declared)"),
        "{md}"
    );

    let json: serde_json::Value = serde_json::from_str(&report(&spec, "json")).unwrap();
    assert_eq!(json["schema_version"], 2);
    // Every digit, as a decimal string.
    assert_eq!(
        (json["metrics"][0]["old"].as_str(), json["metrics"][0]["new"].as_str(), json["metrics"][0]["delta"].as_str()),
        (Some("28164536.16"), Some("27860857.31"), Some("-303678.85"))
    );
    assert_eq!(json["partitions"].as_array().unwrap().len(), 546);
    assert_eq!(json["rows"], serde_json::json!({"unchanged": 2184, "changed": 8736, "added": 0, "removed": 0}));
    assert!(json["gates"].as_array().unwrap().iter().all(|g| g["verdict"] == "pass"));

    let out = backfill().arg("report").arg(&spec).args(["--format", "html"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let html = std::fs::read_to_string(wh.path().join("_backfills").join(ID).join("report.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && !html.contains("<script") && !html.contains("src=\"http"),
        "not self-contained"
    );
    assert_eq!(html.matches("<svg").count(), 2, "one values chart and one delta chart");
    assert!(
        html.contains("net_revenue per partition: base (old) vs shadow (new)") && html.contains("<polyline"),
        "the values chart has no lines"
    );
    assert!(
        html.contains("<div class=\"scroll\"><table>") && html.contains(".scroll{overflow-x:auto"),
        "wide tables scroll inside the page"
    );
}

#[test]
fn an_expected_range_that_excludes_the_whole_range_delta_fails_the_run_once_every_batch_is_done_and_publish_refuses() {
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &[("expected_delta: \"-1.5% to -0.8%\"", "expected_delta: \"-0.5% to +0.5%\"")]);
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "every batch is done, but the whole range failed its gates: expected_delta:net_revenue: \
             whole range net_revenue 28,164,536.16 → 27,860,857.31 (-1.08 %) \
             over 546 partitions; expected -0.5 % to +0.5 %: outside by 0.58 percentage points"
        ),
        "{stderr}"
    );
    // The whole range is checked once, at the end: no batch stopped on it.
    let batches = wh.path().join("_backfills").join(ID).join("batches");
    assert_eq!(std::fs::read_dir(&batches).unwrap().count(), 78);
    let md = report(&spec, "md");
    assert!(
        md.contains(
            "| expected_delta:net_revenue | **FAIL** | whole range net_revenue \
             28,164,536.16 → 27,860,857.31 (-1.08 %)"
        ),
        "{md}"
    );
    assert!(
        md.contains(
            "| net_revenue | `sum(net_revenue)` | 28,164,536.16 | 27,860,857.31 | \
             -303,678.85 | -1.08 % | -0.5 % to +0.5 % | **OUTSIDE** |"
        ),
        "{md}"
    );

    let out = backfill().arg("publish").arg(&spec).args(["--approved-by", "finance-lead"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused to publish")
            && stderr.contains("the whole range failed its gates: expected_delta:net_revenue"),
        "{stderr}"
    );
    assert!(!wh.path().join("governance").exists(), "a release was recorded");

    // Fix the expectation; --restart begins again (the plan changed) and passes.
    let fixed = spec_for(wh.path(), &[]);
    let out = execute(&fixed, &["--restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_batch_expected_delta_stops_the_run_at_the_first_batch_outside_it() {
    let wh = warehouse_copy();
    let spec = spec_for(
        wh.path(),
        &[
            (
                "expected_delta: \"-1.5% to -0.8%\"",
                "expected_delta: \"-1.5% to -0.8%\"\n      batch_expected_delta: \"-1.1% to -0.9%\"",
            ),
            ("max_concurrency: 2", "max_concurrency: 1"),
        ],
    );
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "batch 1 failed its gate: batch_expected_delta:net_revenue: \
             batch 1 net_revenue 341,063.96 → 336,971.63 (-1.20 %) over 7 partitions; \
             expected -1.1 % to -0.9 %: outside by 0.10 percentage points"
        ),
        "{stderr}"
    );
    // The batch's figures by an independent query over the files.
    let sum = |table: &str| {
        crate::common::seasonal::scalar_text(
            &crate::common::seasonal::independent(
                wh.path(),
                &format!(
                    "SELECT sum(net_revenue) AS v FROM {table} \
                     WHERE revenue_date BETWEEN DATE '2024-12-01' AND DATE '2024-12-07'"
                ),
            ),
            "v",
        )
    };
    assert_eq!(
        (sum("finance.daily_revenue"), sum("finance.daily_revenue_v2")),
        ("341063.96".to_string(), "336971.63".to_string())
    );
    let batches = wh.path().join("_backfills").join(ID).join("batches");
    assert_eq!(std::fs::read_dir(&batches).unwrap().count(), 1, "the run went on after the failed batch");
    let md = report(&spec, "md");
    assert!(md.contains("| batch_expected_delta:net_revenue | **FAIL** | batch 1: batch 1 net_revenue"), "{md}");
    assert!(md.contains("Not yet: computed when the last batch is done (0 of 78 batches done)."), "{md}");
}

#[test]
fn a_transform_that_duplicates_keys_fails_unique_keys_with_exit_1() {
    let wh = warehouse_copy();
    let spec = spec_for(
        wh.path(),
        &[
            (
                "    WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }}\n",
                "    WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }}\n    \
                 UNION ALL\n    \
                 SELECT revenue_date, merchant_id, gross_revenue, gross_revenue - tax_amount AS net_revenue\n    \
                 FROM staging.revenue_events\n    \
                 WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }} AND merchant_id = 7\n",
            ),
            ("row_count_tolerance: 0", "row_count_tolerance: \"10%\""),
        ],
    );
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed its gate: unique_keys: 7 key(s) occur more than once in the shadow, e.g. (2024-12"),
        "{stderr}"
    );
    assert!(!stderr.contains("row_count_tolerance"), "only unique_keys should fail: {stderr}");
}
