//! The dry run on the seasonal fixture: exact under its byte budget, and over it a sample
//! estimate whose interval brackets the true whole-range figure.

use super::*;

#[test]
fn the_dry_run_is_exact_under_its_budget_and_brackets_the_truth_over_it() {
    let (wh, dir) = fixture(&SeasonalOptions::default());
    let spec = seasonal_spec(dir.path(), wh.path(), &[]);
    let dry = json(cli(&["run", "--format", "json"], &spec));
    assert_eq!(dry["dry_run"]["coverage"], "whole_range");
    let tiny = json(cli(&["run", "--format", "json", "--dry-run-budget", "1KiB"], &spec));
    assert_eq!(tiny["dry_run"]["coverage"], "sample");
    assert_eq!(tiny["dry_run"]["evaluated"].as_array().unwrap().len(), 48, "two partitions in each of 24 months");
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
