//! Numbers a finance reviewer can sign (issue 12), on the seasonal fixture the tests make
//! themselves (tests/common/seasonal.rs): every whole-range figure equals one independent
//! query over the Parquet files; the same totals and verdicts whatever the batching;
//! `expected_delta` holds over the whole range, not per batch; NULL keys and values are
//! matched, never counted as removed plus added; a result column a template renamed is
//! an error, not 0; the dry run is exact under its budget and brackets the truth over it.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::seasonal::{independent, scalar_text, seasonal_spec, seasonal_warehouse, SeasonalOptions};
use crate::common::{backfill, grouped, root, warehouse_copy};

const BASE: &str = "ops.flight_delays";
const SHADOW: &str = "ops.flight_delays__flight_delay_fix";

/// The metrics of the seasonal spec: name, SQL, whether the value is exact (a decimal or
/// an integer, compared digit for digit).
const METRICS: [(&str, &str, bool); 4] = [
    ("avg_delay", "avg(avg_arr_delay)", false),
    ("max_delay", "max(avg_arr_delay)", false),
    ("carriers", "count(DISTINCT carrier)", true),
    ("fees", "sum(fees)", true),
];

/// A generated seasonal warehouse and a folder for specs.
fn fixture(opts: &SeasonalOptions) -> (tempfile::TempDir, tempfile::TempDir) {
    let wh = tempfile::tempdir().unwrap();
    seasonal_warehouse(wh.path(), opts);
    (wh, tempfile::tempdir().unwrap())
}

fn cli(args: &[&str], spec: &Path) -> Output {
    let (command, rest) = args.split_first().unwrap();
    backfill().arg(command).arg(spec).args(rest).output().unwrap()
}

fn ok(out: Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// One value of `sql` over `table` in the range `[from, to]`, by the independent query.
fn truth(wh: &Path, sql: &str, table: &str, from: &str, to: &str) -> String {
    scalar_text(
        &independent(
            wh,
            &format!("SELECT {sql} AS v FROM {table} WHERE flight_date BETWEEN DATE '{from}' AND DATE '{to}'"),
        ),
        "v",
    )
}

/// A report (or dry-run) value as text: exact values are JSON strings, floats numbers.
fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Floats agree to 1e-9 relative (summation order differs between engines' plans).
fn close(a: &str, b: &str) -> bool {
    let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn whole_range_figures_equal_one_independent_query_over_the_files() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let spec = seasonal_spec(dir.path(), wh.path(), &[]);
    let stdout = ok(cli(&["run", "--execute"], &spec));
    let report = json(cli(&["report", "--format", "json"], &spec));
    let md = ok(cli(&["report"], &spec));
    // The line the run prints for the money metric, from the independent figures.
    let (old, new) = (
        truth(wh.path(), "sum(fees)", BASE, "2023-01-01", "2024-12-31"),
        truth(wh.path(), "sum(fees)", SHADOW, "2023-01-01", "2024-12-31"),
    );
    assert!(stdout.contains(&format!("whole range: fees {} → {} (", grouped(&old), grouped(&new))), "{stdout}");
    for (i, (name, sql, exact)) in METRICS.iter().enumerate() {
        let m = &report["metrics"][i];
        assert_eq!(m["name"], *name);
        let old = truth(wh.path(), sql, BASE, "2023-01-01", "2024-12-31");
        let new = truth(wh.path(), sql, SHADOW, "2023-01-01", "2024-12-31");
        println!(
            "{name}: report {} → {} ({}), independent {old} → {new}",
            text(&m["old"]),
            text(&m["new"]),
            m["percent"]
        );
        if *exact {
            assert_eq!((text(&m["old"]), text(&m["new"])), (old.clone(), new.clone()), "{name}");
        } else {
            assert!(close(&text(&m["old"]), &old) && close(&text(&m["new"]), &new), "{name}: {m} vs {old} → {new}");
        }
        let (o, n): (f64, f64) = (old.parse().unwrap(), new.parse().unwrap());
        let pct = (n - o) / o.abs() * 100.0;
        assert!((m["percent"].as_f64().unwrap() - pct).abs() < 1e-9, "{name}: {} vs {pct}", m["percent"]);
        assert!(md.contains(&format!(" | {:+.2} % |", pct + 0.0)), "{name} {pct:+.2} % not in {md}");
    }
    // The money delta to the last cent, from one independent query over both tables.
    let delta = scalar_text(
        &independent(
            wh.path(),
            &format!(
                "SELECT (SELECT sum(fees) FROM {SHADOW}) \
                 - (SELECT sum(fees) FROM {BASE} \
                 WHERE flight_date BETWEEN DATE '2023-01-01' AND DATE '2024-12-31') AS v"
            ),
        ),
        "v",
    );
    assert_eq!(text(&report["metrics"][3]["delta"]), delta);
    // Sixteen carriers, not a sum of daily distinct counts.
    assert_eq!(report["metrics"][2]["old"], "16");
}

/// The report figures a batching must not change: whole-range metrics, row classes, gates
/// (verdicts and details as printed). Exact values compare digit for digit; a float
/// metric is summed in whatever order the shadow's files hold its rows, so its JSON value
/// may move in the last bits (checked to 1e-12 relative) while its printed figures, in
/// the gate details, stay the same.
fn totals(report: &Value) -> (Value, Vec<(String, String)>) {
    let mut metrics = report["metrics"].clone();
    let mut floats = Vec::new();
    for m in metrics.as_array_mut().unwrap() {
        for field in ["old", "new", "delta", "percent"] {
            if m[field].is_f64() {
                floats.push((format!("{} {field}", m["name"]), m[field].to_string()));
                m[field] = Value::Null;
            }
        }
    }
    (serde_json::json!({"metrics": metrics, "rows": report["rows"], "gates": report["gates"]}), floats)
}

#[test]
fn the_same_totals_and_verdicts_whatever_the_batching() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let short = ("end: 2024-12-31", "end: 2023-02-28");
    let mut seen: Option<(Value, Vec<(String, String)>)> = None;
    for (per_batch, concurrency) in [(1, 1), (1, 4), (7, 1), (7, 4), (59, 1), (59, 4)] {
        let spec = seasonal_spec(
            dir.path(),
            wh.path(),
            &[
                short,
                ("partitions_per_batch: 31", &format!("partitions_per_batch: {per_batch}")),
                ("max_concurrency: 2", &format!("max_concurrency: {concurrency}")),
            ],
        );
        ok(cli(&["run", "--execute", "--restart"], &spec));
        let report = json(cli(&["report", "--format", "json"], &spec));
        assert_eq!(report["batches"], 59_u32.div_ceil(per_batch));
        let now = totals(&report);
        match &seen {
            None => seen = Some(now),
            Some(first) => {
                assert_eq!(now.0, first.0, "partitions_per_batch {per_batch}, max_concurrency {concurrency}");
                for ((name, a), (_, b)) in now.1.iter().zip(&first.1) {
                    let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
                    assert!((a - b).abs() <= 1e-12 * a.abs().max(b.abs()), "{name}: {a} vs {b}");
                }
            }
        }
    }
}

#[test]
fn an_expected_delta_that_holds_over_the_whole_range_but_not_in_january_passes_and_publishes() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let spec = seasonal_spec(
        dir.path(),
        wh.path(),
        &[
            ("expected_delta: \"+5% to +20%\"", "expected_delta: \"+10% to +15%\""),
            ("max_concurrency: 2", "max_concurrency: 1"),
        ],
    );
    ok(cli(&["run", "--execute"], &spec));
    let report = json(cli(&["report", "--format", "json"], &spec));
    let january = report["batch_metrics"][0]["metrics"][0].clone();
    // Batch 1's own aggregate is January's, by the independent query.
    assert!(
        close(&text(&january["old"]), &truth(wh.path(), "avg(avg_arr_delay)", BASE, "2023-01-01", "2023-01-31")),
        "{january}"
    );
    assert!(
        close(&text(&january["new"]), &truth(wh.path(), "avg(avg_arr_delay)", SHADOW, "2023-01-01", "2023-01-31")),
        "{january}"
    );
    let jan: f64 =
        (text(&january["new"]).parse::<f64>().unwrap() / text(&january["old"]).parse::<f64>().unwrap() - 1.0) * 100.0;
    assert!(jan < 10.0, "batch 1 (January 2023) is {jan:.2} %, outside +10 % to +15 % on its own");
    let whole = report["metrics"][0]["percent"].as_f64().unwrap();
    assert!((10.0..=15.0).contains(&whole), "{whole}");
    ok(cli(&["publish", "--approved-by", "ops-lead"], &spec));
}

#[test]
fn an_expected_delta_that_excludes_the_whole_range_value_fails_the_run_and_publish_refuses() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let spec =
        seasonal_spec(dir.path(), wh.path(), &[("expected_delta: \"+5% to +20%\"", "expected_delta: \"+4% to +8%\"")]);
    let out = cli(&["run", "--execute"], &spec);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let old = truth(wh.path(), "avg(avg_arr_delay)", BASE, "2023-01-01", "2024-12-31");
    let new = truth(wh.path(), "avg(avg_arr_delay)", SHADOW, "2023-01-01", "2024-12-31");
    let pct = (new.parse::<f64>().unwrap() / old.parse::<f64>().unwrap() - 1.0) * 100.0;
    let measured = format!(
        "({pct:+.2} %) over 731 partitions; expected +4 % to +8 %: outside by {:.2} percentage points",
        pct - 8.0
    );
    assert!(
        stderr.contains("the whole range failed its gates: expected_delta:avg_delay: whole range avg_delay ")
            && stderr.contains(&measured),
        "{measured} not in {stderr}"
    );
    let md = ok(cli(&["report"], &spec));
    assert!(
        md.contains("| expected_delta:avg_delay | **FAIL** | whole range avg_delay ") && md.contains(&measured),
        "{md}"
    );
    let out = cli(&["publish", "--approved-by", "ops-lead"], &spec);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("refused to publish flight-delay-fix: the whole range failed its gates: expected_delta:avg_delay"));
}

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
    let original = std::fs::read_to_string(root().join("templates/datafusion/reconcile_partitions.sql.j2")).unwrap();
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
            stderr.contains("fix: restore the column in templates/datafusion/reconcile_partitions.sql.j2"),
            "{stderr}"
        );
    }
    // Checked before the first batch: nothing of the shadow and no checkpoint was written.
    assert!(!wh.path().join("finance/daily_revenue_v2").exists());
    assert!(!wh.path().join("_backfills/revenue-tax-fix-2026-06/batches").exists());
}

#[test]
fn the_dry_run_is_exact_under_its_budget_and_brackets_the_truth_over_it() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let spec = seasonal_spec(dir.path(), wh.path(), &[]);
    let dry = json(cli(&["run", "--format", "json"], &spec));
    assert_eq!(dry["coverage"], "whole_range");
    let tiny = json(cli(&["run", "--format", "json", "--dry-run-budget", "1KiB"], &spec));
    assert_eq!(tiny["coverage"], "sample");
    assert_eq!(tiny["evaluated"].as_array().unwrap().len(), 48, "two partitions in each of 24 months");
    ok(cli(&["run", "--execute"], &spec));
    let report = json(cli(&["report", "--format", "json"], &spec));
    for (i, (name, sql, exact)) in METRICS.iter().enumerate() {
        let (d, r) = (&dry["metrics"][i], &report["metrics"][i]);
        // The dry run against the independent query directly.
        let (old, new) = (
            truth(wh.path(), sql, BASE, "2023-01-01", "2024-12-31"),
            truth(wh.path(), sql, SHADOW, "2023-01-01", "2024-12-31"),
        );
        if *exact {
            assert_eq!((text(&d["old"]), text(&d["new"])), (old.clone(), new.clone()), "{name}");
        } else {
            assert!(close(&text(&d["old"]), &old) && close(&text(&d["new"]), &new), "{name}: {d} vs {old} → {new}");
        }
        if *exact {
            assert_eq!((text(&d["old"]), text(&d["new"])), (text(&r["old"]), text(&r["new"])), "{name}");
        } else {
            assert!(
                close(&text(&d["old"]), &text(&r["old"])) && close(&text(&d["new"]), &text(&r["new"])),
                "{name}: {d} vs {r}"
            );
        }
        assert!((d["percent"].as_f64().unwrap() - r["percent"].as_f64().unwrap()).abs() < 1e-9, "{name}");
        let (o, n): (f64, f64) = (old.parse().unwrap(), new.parse().unwrap());
        let truth = (n - o) / o.abs() * 100.0;
        let s = &tiny["metrics"][i];
        let [lo, hi] = [s["interval"][0].as_f64().unwrap(), s["interval"][1].as_f64().unwrap()];
        println!(
            "{name}: whole range {truth:+.4} %, sample {:+.4} % in [{lo:+.4}, {hi:+.4}]",
            s["percent"].as_f64().unwrap()
        );
        if *name == "max_delay" {
            // A sample cannot bound an extreme: the gate on it can only say UNCERTAIN.
            continue;
        }
        assert!(lo <= truth && truth <= hi, "{name}: {truth} outside [{lo}, {hi}]");
    }
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
