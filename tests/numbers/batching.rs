//! Batching must not move a figure: the same totals and verdicts for any
//! `partitions_per_batch`, and `expected_delta` judged over the whole range, not per batch.

use super::*;

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
