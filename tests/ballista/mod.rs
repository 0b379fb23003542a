//! `run --execute --engine ballista`: on an in-process standalone cluster and on a
//! cluster of three processes (`cluster`), the shadow, every batch's reconciliation and
//! the whole range's figures equal the embedded engine's; a run killed with SIGKILL
//! resumes on Ballista and converges.

mod cluster;
mod listing;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use serde_json::Value;

use crate::common::{backfill, executed_copy, warehouse_copy};
use crate::execute::{outside_shadow, shadow_rows, spec_for};

const ID: &str = "revenue-tax-fix-2026-06";

/// What a run left that must not depend on the engine: per batch, its partitions, rows
/// written and reconciliation outcome (gates included); the whole range's figures.
pub(crate) fn engine_free_results(wh: &Path) -> (Vec<Value>, Value) {
    let dir = wh.join("_backfills").join(ID);
    let mut batches: Vec<_> = std::fs::read_dir(dir.join("batches")).unwrap().map(|e| e.unwrap().path()).collect();
    batches.sort();
    let batches = batches
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            serde_json::json!({
                "batch": v["batch"], "state": v["state"], "partitions": v["partitions"],
                "rows_written": v["rows_written"], "reconciliation": v["reconciliation"], "gates": v["gates"],
            })
        })
        .collect();
    let mut range: Value = serde_json::from_slice(&std::fs::read(dir.join("range.json")).unwrap()).unwrap();
    range.as_object_mut().unwrap().retain(|k, _| !k.ends_with("_at"));
    (batches, range)
}

/// Two months of the fixture spec (2024-12-01..2025-01-31, 9 batches): the runs that
/// are repeated or compared more than once.
pub(crate) const SHORT: [(&str, &str); 2] =
    [("end: 2026-05-31", "end: 2025-01-31"), ("exclude: [2025-12-25]", "exclude: []")];

/// The fixture spec pointed at `wh` with `replace`, run with `run SPEC --execute ARGS`;
/// must succeed. Its stderr.
pub(crate) fn execute_ok(wh: &Path, replace: &[(&str, &str)], args: &[&str]) -> String {
    let spec = spec_for(wh, replace);
    let out = backfill().arg("run").arg(&spec).arg("--execute").args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    stderr
}

#[tokio::test]
async fn a_standalone_ballista_run_gives_the_embedded_engines_shadow_checks_and_range_figures() {
    let embedded = executed_copy();
    let wh = warehouse_copy();
    let outside = outside_shadow(wh.path());
    execute_ok(wh.path(), &[], &["--engine", "ballista"]);
    assert_eq!(shadow_rows(wh.path()).await, shadow_rows(embedded.path()).await);
    let (batches, range) = engine_free_results(wh.path());
    assert_eq!(batches.len(), 78);
    assert_eq!((batches, range), engine_free_results(embedded.path()));
    assert_eq!(outside_shadow(wh.path()), outside);
}

#[tokio::test]
async fn the_spec_field_execution_engine_picks_ballista_and_a_scheduler_without_it_is_refused() {
    let wh = warehouse_copy();
    let spec =
        spec_for(wh.path(), &[("  partitions_per_batch: 7\n", "  partitions_per_batch: 7\n  engine: ballista\n")]);
    let scheduler = ["--scheduler", "df://127.0.0.1:1"];
    let out = backfill()
        .arg("run")
        .arg(&spec)
        .args(["--execute", "--engine", "datafusion"])
        .args(scheduler)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("but the engine is datafusion"), "{stderr}");
    // The spec's engine, with an unreachable scheduler: the run fails to reach it (exit 3).
    let out = backfill().arg("run").arg(&spec).arg("--execute").args(scheduler).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("Ballista scheduler at df://127.0.0.1:1"), "{stderr}");
}

#[tokio::test]
async fn a_ballista_run_killed_mid_commit_then_rerun_on_ballista_converges_to_the_embedded_run() {
    let embedded = warehouse_copy();
    execute_ok(embedded.path(), &SHORT, &[]);
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &SHORT);
    for point in ["batch-3-mid-commit", "batch-7-before-checkpoint"] {
        let out = backfill()
            .arg("run")
            .arg(&spec)
            .args(["--execute", "--engine", "ballista"])
            .env("BACKFILL_FAILPOINT", point)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(9), "{point} was not reached: {stderr}");
    }
    execute_ok(wh.path(), &SHORT, &["--engine", "ballista"]);
    assert_eq!(shadow_rows(wh.path()).await, shadow_rows(embedded.path()).await);
    let (batches, range) = engine_free_results(wh.path());
    assert_eq!(batches.len(), 9);
    assert_eq!((batches, range), engine_free_results(embedded.path()));
}
