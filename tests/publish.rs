//! Publishing, querying and rolling back on copies of an executed fixture: the view swap
//! corrects exactly the source range, keeps later partitions of the live pipeline
//! visible, rolls back to exactly what readers saw before; racing publishes commit once.
//! Crashes inside publish and rollback: `crash.rs`; rollback without the transform:
//! `rollback.rs`.

use std::path::Path;
use std::process::Stdio;

use crate::common::{bf, executed_copy, query};

const SPEC: &str = "specs/revenue-tax-fix.yaml";

fn versions(wh: &Path) -> usize {
    std::fs::read_dir(wh.join("_catalog")).unwrap().count()
}

fn ledger_files(wh: &Path) -> usize {
    std::fs::read_dir(wh.join("governance/data_releases")).map_or(0, |d| d.count())
}

const VIEW_ROWS: &str =
    "SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM finance.daily_revenue_current \
     WHERE revenue_date <> DATE '2026-07-01' ORDER BY revenue_date, merchant_id";
const BY_DAY: &str = "SELECT revenue_date, round(sum(net_revenue), 2) AS net \
                      FROM finance.daily_revenue_current WHERE revenue_date IN (DATE '2024-11-30', DATE '2024-12-01', \
                      DATE '2025-12-25', DATE '2026-05-31', DATE '2026-06-01') GROUP BY 1 ORDER BY 1";
const BASE_BY_DAY: &str = "SELECT revenue_date, round(sum(net_revenue), 2) AS net \
                           FROM finance.daily_revenue WHERE revenue_date IN (DATE '2024-11-30', DATE '2024-12-01', \
                           DATE '2025-12-25', DATE '2026-05-31', DATE '2026-06-01') GROUP BY 1 ORDER BY 1";
const SHADOW_BY_DAY: &str = "SELECT revenue_date, round(sum(net_revenue), 2) AS net FROM finance.daily_revenue_v2 \
                             WHERE revenue_date IN (DATE '2024-12-01', DATE '2026-05-31') GROUP BY 1 ORDER BY 1";

#[test]
fn publish_query_live_partition_rollback_end_to_end() {
    let wh = executed_copy();
    let wh = wh.path();
    // Before publishing: run --execute created the view over the base.
    let before = query(wh, VIEW_ROWS);
    assert_eq!(before.lines().count(), 1 + 20 * 607, "header + 20 merchants x 607 days");
    assert_eq!(query(wh, BY_DAY), query(wh, BASE_BY_DAY));

    let (code, out, err) = bf(wh, &["publish", SPEC, "--approved-by", "finance-lead"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("verified by reading the view back"), "{out}");

    // In range: the shadow's rows. Outside the range and the excluded day: the base's.
    let view: Vec<String> = query(wh, BY_DAY).lines().map(String::from).collect();
    let base: Vec<String> = query(wh, BASE_BY_DAY).lines().map(String::from).collect();
    let shadow: Vec<String> = query(wh, SHADOW_BY_DAY).lines().map(String::from).collect();
    assert_eq!(view[1], base[1], "2024-11-30 is outside the range");
    assert_eq!(view[2], shadow[1], "2024-12-01 comes from the shadow");
    assert_ne!(view[2], base[2], "2024-12-01 is corrected");
    assert_eq!(view[3], base[3], "2025-12-25 is excluded");
    assert_eq!(view[4], shadow[2], "2026-05-31 comes from the shadow");
    assert_eq!(view[5], base[5], "2026-06-01 is outside the range");

    // The live pipeline adds a partition to the base after publishing: readers see it.
    let day = wh.join("finance/daily_revenue/revenue_date=2026-07-01");
    std::fs::create_dir_all(&day).unwrap();
    let june30 = wh.join("finance/daily_revenue/revenue_date=2026-06-30");
    let file = std::fs::read_dir(&june30).unwrap().next().unwrap().unwrap().path();
    std::fs::copy(&file, day.join("part-0.parquet")).unwrap();
    assert_eq!(
        query(wh, "SELECT count(*) AS n FROM finance.daily_revenue_current WHERE revenue_date = DATE '2026-07-01'"),
        "n\n20\n"
    );

    // A published shadow is immutable; a second publish is refused.
    assert_eq!(bf(wh, &["run", SPEC, "--execute"]).0, Some(1));
    let (code, _, err) = bf(wh, &["publish", SPEC, "--approved-by", "finance-lead"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already published"), "{err}");

    let (code, out, err) = bf(wh, &["rollback", SPEC, "--approved-by", "finance-lead"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("rolled back"), "{out}");
    assert_eq!(query(wh, VIEW_ROWS), before, "after rollback the view returns what it returned before publishing");
    assert_eq!(
        query(wh, "SELECT count(*) AS n FROM finance.daily_revenue_current WHERE revenue_date = DATE '2026-07-01'"),
        "n\n20\n"
    );

    // The ledger: one row per publish and rollback, newest first in `releases`.
    assert_eq!(
        query(
            wh,
            "SELECT action, approved_by, partitions, catalog_version FROM governance.data_releases \
             ORDER BY catalog_version"
        ),
        "action,approved_by,partitions,catalog_version\npublish,finance-lead,546,3\nrollback,finance-lead,546,4\n"
    );
    let (code, out, _) = bf(wh, &["releases", "--format", "json"]);
    assert_eq!(code, Some(0));
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["action"], "rollback");
    assert_eq!(rows[1]["action"], "publish");
    assert_eq!(rows[1]["rows_written"], 10920);
    assert!(rows[1]["metric_deltas"].as_str().unwrap().contains("net_revenue"));
}

#[test]
fn two_racing_publishes_commit_once() {
    let wh = executed_copy();
    let wh = wh.path();
    let catalog_before = versions(wh);
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("backfill"))
            .current_dir(crate::common::root())
            .arg("--warehouse")
            .arg(wh)
            .args(["publish", SPEC, "--approved-by", "racer"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert_eq!(
        codes.iter().filter(|c| **c == Some(0)).count(),
        1,
        "exactly one publish succeeds: {codes:?}\n{}\n{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let loser = if a.status.code() == Some(0) { &b } else { &a };
    assert!(matches!(loser.status.code(), Some(1) | Some(4)), "{}", String::from_utf8_lossy(&loser.stderr));
    assert_eq!(versions(wh), catalog_before + 1, "one catalog commit");
    assert_eq!(ledger_files(wh), 1, "one ledger row");
}

#[test]
fn publish_refuses_when_the_base_changed_since_reconciliation_or_the_fingerprint_differs() {
    let wh = executed_copy();
    let wh = wh.path();
    let catalog_before = versions(wh);
    let (code, _, err) = bf(wh, &["publish", SPEC, "--approved-by", "x", "--fingerprint", "sha256:0123456789abcdef"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("is not the executed plan's fingerprint"), "{err}");
    // The live pipeline rewrote a partition inside the range after it was reconciled.
    let day = wh.join("finance/daily_revenue/revenue_date=2025-03-03");
    std::fs::copy(day.join("part-0.parquet"), day.join("part-1.parquet")).unwrap();
    let (code, _, err) = bf(wh, &["publish", SPEC, "--approved-by", "x"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the base table changed since these partitions were reconciled: revenue_date=2025-03-03"),
        "{err}"
    );
    assert_eq!(versions(wh), catalog_before, "a refused publish commits nothing");
    assert_eq!(ledger_files(wh), 0);
}
