//! `backfill demo`: every step on a fresh copy of the sample warehouse, ending with a
//! publish and a rollback in the ledger; a rerun starts afresh; a foreign folder is left
//! alone.

use crate::common::{backfill, fixture_warehouse, tree_digest};

#[test]
fn demo_runs_every_step_and_ends_published_then_rolled_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo-warehouse");
    let out = backfill().arg("demo").arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for step in ["validate", "plan", "run", "report", "publish", "query", "releases", "rollback"] {
        assert!(
            stdout.contains(&format!("$ backfill --warehouse {} {step}", dir.display())),
            "step {step} not shown:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("published revenue-tax-fix-2026-06") && stdout.contains("rolled back revenue-tax-fix-2026-06"),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with(&format!("open {} in a browser for the report", dir.join("report.html").display())),
        "{stdout}"
    );
    assert!(std::fs::read_to_string(dir.join("report.html")).unwrap().contains("<svg"));
    let releases = backfill().arg("--warehouse").arg(&dir).args(["releases", "--format", "csv"]).output().unwrap();
    let csv = String::from_utf8_lossy(&releases.stdout);
    let actions: Vec<&str> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(actions, ["rollback", "publish"], "{csv}");

    // The demo's warehouse starts as the bundled fixture, byte for byte.
    let fresh = tmp.path().join("fresh");
    backfill::sample::write_sample(&fresh, &backfill::sample::SampleOptions::default()).unwrap();
    assert_eq!(
        tree_digest(&fresh),
        tree_digest(&fixture_warehouse()),
        "the generated sample differs from fixtures/warehouse"
    );

    // A rerun replaces the earlier demo.
    let again = backfill().arg("demo").arg(&dir).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(dir.join("governance/data_releases")).unwrap().count(),
        2,
        "a rerun starts from a fresh copy"
    );
}

#[test]
fn demo_refuses_a_folder_it_did_not_make() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious.txt"), "keep me").unwrap();
    let out = backfill().arg("demo").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not made by `backfill demo`"));
    assert_eq!(std::fs::read_to_string(tmp.path().join("precious.txt")).unwrap(), "keep me");
}
