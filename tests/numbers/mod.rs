//! Numbers a finance reviewer can sign (issue 12), on the seasonal fixture the tests make
//! themselves (tests/common/seasonal/): every whole-range figure equals one independent
//! query over the Parquet files; the same totals and verdicts whatever the batching;
//! `expected_delta` holds over the whole range, not per batch; NULL keys and values are
//! matched, never counted as removed plus added; a result column a template renamed is
//! an error, not 0; the dry run is exact under its budget and brackets the truth over it.
//!
//! This module holds the shared helpers and the whole-range check; `batching` (the same
//! figures whatever the batching, `expected_delta` over the whole range), `rows` (NULL
//! matching, renamed result columns, value tolerances) and `dry_run` hold the rest.

mod batching;
mod dry_run;
mod rows;

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
