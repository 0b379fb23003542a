//! `backfill plan` and `backfill validate` on the specs under `specs/`: the plan text
//! of every spec is pinned by an insta snapshot, so a reviewer sees any change to the
//! SQL as a diff.

use crate::common::{backfill, root, tree_digest, warehouse_copy, warehouse_override};

fn specs() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root().join("specs"))
        .expect("specs folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    out.sort();
    out
}

#[test]
fn plan_text_of_every_spec_is_pinned() {
    for name in specs() {
        let mut cmd = backfill();
        cmd.args(["plan", &format!("specs/{name}")]);
        let mut filters = Vec::new();
        if let Some(wh) = warehouse_override(&name) {
            cmd.arg("--warehouse").arg(wh);
            filters.push((regex_escape(&wh.display().to_string()), "[generated TPC-H warehouse, scale factor 0.01]"));
        }
        let out = cmd.output().expect("runs");
        assert_eq!(out.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).expect("utf-8");
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        insta::with_settings!({
            snapshot_suffix => name.trim_end_matches(".yaml").to_string(),
            prepend_module_to_snapshot => false,
            filters => filters,
        }, {
            insta::assert_snapshot!("plan", text);
        });
    }
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '/' || c == '_' { c.to_string() } else { format!("\\{c}") })
        .collect()
}

#[test]
fn fixture_plan_has_the_expected_scope() {
    let out = backfill().args(["plan", "specs/revenue-tax-fix.yaml", "--format", "json"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let plan = &doc["plan"];
    // 2024-12-01..2026-05-31 is 547 days; 2025-12-25 is excluded.
    assert_eq!(plan["partitions"].as_array().unwrap().len(), 546);
    assert_eq!(plan["batches"].as_array().unwrap().len(), 78);
    assert_eq!(plan["batches"][0]["partitions"][0], "2024-12-01");
    assert!(!plan["partitions"].as_array().unwrap().iter().any(|p| p == "2025-12-25"));
    // 20 merchants a day in the source, one file a day. The batch spanning the excluded
    // 2025-12-25 still reads that day's source (its transform says BETWEEN), so 547 files.
    assert_eq!(plan["batches"][0]["estimate"]["rows"], 140);
    assert_eq!(doc["estimate"]["rows"], 547 * 20);
    assert_eq!(doc["estimate"]["files"], 547);
    let downstream: Vec<&str> =
        plan["downstream"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(
        downstream,
        ["reporting.revenue_by_month", "reporting.revenue_ytd", "dashboard:finance-revenue", "export:erp-monthly"]
    );
    assert_eq!(doc["fingerprint"].as_str().unwrap().len(), 64);
    let steps: Vec<&str> = doc["statements"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    // Only statements that are executed: moving files into the shadow and the ledger row
    // are backfill's own work, not SQL.
    assert_eq!(&steps[..4], ["prepare_view", "create_shadow", "write_batch", "reconcile_partitions"]);
    assert_eq!(&steps[steps.len() - 3..], ["reconcile_range", "view_swap", "rollback"]);
}

#[test]
fn plan_out_writes_numbered_sql_files_and_nothing_else() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let out_dir = tempfile::tempdir().unwrap();
    let out = backfill()
        .args(["plan", "specs/revenue-tax-fix.yaml", "--warehouse"])
        .arg(wh.path())
        .arg("--out")
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<String> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    files.sort();
    assert_eq!(files[0], "0001_prepare_view.sql");
    assert_eq!(files[1], "0002_create_shadow.sql");
    assert_eq!(files[2], "0003_b0001_write_batch.sql");
    let first = std::fs::read_to_string(out_dir.path().join(&files[2])).unwrap();
    assert!(first.starts_with("-- [3] batch 1/78 (2024-12-01..2024-12-07, 7 partitions) · write_batch"), "{first}");
    assert!(first.contains("FROM staging.revenue_events"));
    assert_eq!(tree_digest(wh.path()), before, "plan wrote into the warehouse");
}

#[test]
fn same_spec_same_fingerprint_and_a_changed_spec_changes_it() {
    let fp = |spec: &std::path::Path| {
        let out = backfill().args(["validate"]).arg(spec).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        text.split("sha256:").nth(1).unwrap().trim().to_string()
    };
    let spec = root().join("specs/revenue-tax-fix.yaml");
    let a = fp(&spec);
    assert_eq!(a, fp(&spec));
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "warehouse: ../fixtures/warehouse",
        &format!("warehouse: {}", root().join("fixtures/warehouse").display()),
    );
    std::fs::write(dir.path().join("same.yaml"), &text).unwrap();
    assert_eq!(a, fp(&dir.path().join("same.yaml")), "the warehouse's location is not part of the fingerprint");
    std::fs::write(dir.path().join("changed.yaml"), text.replace("partitions_per_batch: 7", "partitions_per_batch: 8"))
        .unwrap();
    assert_ne!(a, fp(&dir.path().join("changed.yaml")));
}

#[test]
fn warehouse_flag_and_env_override_the_spec() {
    let out = backfill()
        .args(["validate", "specs/revenue-tax-fix.yaml", "--warehouse", "/nonexistent/warehouse"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warehouse `/nonexistent/warehouse`: no such folder"));
    let out = backfill()
        .args(["validate", "specs/revenue-tax-fix.yaml"])
        .env("BACKFILL_WAREHOUSE", "gopher://x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the scheme `gopher://` is not supported"));
}

#[test]
fn template_override_that_does_not_parse_names_the_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rollback.sql.j2"), "CREATE OR REPLACE VIEW {{ view | table }} AS SELEC 1").unwrap();
    let out = backfill().args(["plan", "specs/revenue-tax-fix.yaml", "--templates"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rollback.sql.j2 rendered SQL that does not parse"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn a_template_cannot_print_a_bare_string_into_sql() {
    // `{{ view }}` without the table filter prints a quoted literal, never a bare name.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("view_swap.sql.j2"), "SELECT {{ view }} AS name, {{ partitions }} AS n").unwrap();
    let out = backfill().args(["plan", "specs/revenue-tax-fix.yaml", "--templates"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SELECT 'finance.daily_revenue_current' AS name, 546 AS n;"));
}

#[test]
fn a_rollback_template_sees_only_the_view_and_its_previous_body() {
    // Rollback renders it from the catalog alone, so the plan renders it with no more:
    // a template that needs the plan fails when planning, not when rolling back.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rollback.sql.j2"), "SELECT {{ view }} AS name, {{ partitions }} AS n").unwrap();
    let out = backfill().args(["plan", "specs/revenue-tax-fix.yaml", "--templates"]).arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rollback.sql.j2: undefined value"), "{stderr}");
}
