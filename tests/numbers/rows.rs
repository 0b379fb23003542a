//! Row-level matching and result columns: NULL keys and values are matched (never counted
//! as removed plus added), a result column a template renamed is an error rather than 0,
//! and `value_tolerance` counts small moves as unchanged.

use super::*;

#[test]
fn rows_with_a_null_key_or_a_null_value_are_matched_never_removed_and_added() {
    let (wh, dir) = fixture(&SeasonalOptions { null_carrier_rows: true, null_delay_rows: true });
    let spec = seasonal_spec(dir.path(), wh.path(), &[("end: 2024-12-31", "end: 2023-01-31")]);
    ok(cli(&["run", "--execute"], &spec));
    let report = json(cli(&["report", "--format", "json"], &spec));
    // 17 rows a day (16 carriers and the NULL one) for 31 days, none removed or added.
    let changed = scalar_text(
        &independent(
            wh.path(),
            &format!(
                "SELECT count(*) AS v FROM {BASE} o JOIN {SHADOW} n ON o.flight_date = n.flight_date \
                 AND o.carrier IS NOT DISTINCT FROM n.carrier \
                 WHERE o.flight_date <= DATE '2023-01-31' AND ((o.avg_arr_delay IS DISTINCT FROM n.avg_arr_delay) OR \
                 (o.fees IS DISTINCT FROM n.fees) OR (o.flights IS DISTINCT FROM n.flights))"
            ),
        ),
        "v",
    );
    let changed: u64 = changed.parse().unwrap();
    assert_eq!(
        report["rows"],
        serde_json::json!({"unchanged": 17 * 31 - changed, "changed": changed, "added": 0, "removed": 0})
    );
    assert!(report["gates"].as_array().unwrap().iter().all(|g| g["verdict"] == "pass"), "{}", report["gates"]);
}

#[test]
fn a_template_that_renames_a_result_column_is_an_error_naming_it_not_a_zero() {
    let wh = warehouse_copy();
    let templates = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(root().join("templates/common/reconcile_partitions.sql.j2")).unwrap();
    assert!(original.contains("AS base_rows"));
    std::fs::write(
        templates.path().join("reconcile_partitions.sql.j2"),
        original.replace("AS base_rows", "AS base_row_count"),
    )
    .unwrap();
    let spec = PathBuf::from("specs/revenue-tax-fix.yaml");
    for execute in [false, true] {
        let mut cmd = backfill();
        cmd.arg("--warehouse").arg(wh.path()).arg("run").arg(&spec).arg("--templates").arg(templates.path());
        if execute {
            cmd.arg("--execute");
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("the result of reconcile_partitions has no column `base_rows`, which backfill reads")
                && stderr.contains("base_row_count"),
            "{stderr}"
        );
        assert!(
            stderr.contains("fix: restore the column in template reconcile_partitions.sql.j2 (under templates/common/"),
            "{stderr}"
        );
    }
    // Checked before the first batch: nothing of the shadow and no checkpoint was written.
    assert!(!wh.path().join("finance/daily_revenue_v2").exists());
    assert!(!wh.path().join("_backfills/revenue-tax-fix-2026-06/batches").exists());
}

#[test]
fn a_value_tolerance_counts_small_moves_as_unchanged_and_must_name_a_numeric_value_column() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let january = ("end: 2024-12-31", "end: 2023-01-31");
    let with = |tolerances: &str| {
        seasonal_spec(
            dir.path(),
            wh.path(),
            &[january, ("  sample_rows: 5", &format!("  sample_rows: 5\n  value_tolerance:\n{tolerances}"))],
        )
    };
    // The source holds the corrected rows: count those whose fees move, independently.
    let fees_moved: u64 = scalar_text(
        &independent(
            wh.path(),
            &format!(
                "SELECT count(*) AS v FROM {BASE} o \
                 JOIN staging.flight_corrections n ON o.flight_date = n.flight_date AND o.carrier = n.carrier \
                 WHERE o.flight_date <= DATE '2023-01-31' AND o.fees <> n.fees"
            ),
        ),
        "v",
    )
    .parse()
    .unwrap();
    // Delays move by 5 % in January: within a relative 0.5 they count as unchanged, so
    // only the rows whose fees moved are changed.
    let spec = with("    avg_arr_delay: 0.5");
    ok(cli(&["run", "--execute", "--restart"], &spec));
    assert!(fees_moved > 0 && fees_moved < 16 * 31);
    let report = json(cli(&["report", "--format", "json"], &spec));
    assert_eq!(report["rows"]["changed"], fees_moved);
    assert!(
        report["comparisons"]
            .as_array()
            .unwrap()
            .contains(&Value::from("avg_arr_delay (DOUBLE): equal within a relative tolerance of 0.5")),
        "{}",
        report["comparisons"]
    );
    // Fees move by 7 % of at most 90,000.00: within 100,000.00 (exact, in the column's
    // units) they count as unchanged too.
    let spec = with("    avg_arr_delay: 0.5\n    fees: \"100000.00\"");
    ok(cli(&["run", "--execute", "--restart"], &spec));
    let report = json(cli(&["report", "--format", "json"], &spec));
    assert_eq!(report["rows"]["changed"], 0);
    assert_eq!(report["rows"]["unchanged"], 16 * 31);
    assert!(
        report["comparisons"]
            .as_array()
            .unwrap()
            .contains(&Value::from("fees (DECIMAL(18, 2)): equal within 100000 (exact, in the column's units)")),
        "{}",
        report["comparisons"]
    );

    let out = cli(&["validate"], &with("    carrier: 1"));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("validation.value_tolerance.carrier") && stderr.contains("is not a numeric value column"),
        "{stderr}"
    );
}
