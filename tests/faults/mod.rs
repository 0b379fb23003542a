//! The run protocol under faults, on copies of the fixture with real child processes:
//! a paused lease holder that lost its lease (`lease`), kills at random failpoints of
//! `run --execute` (`kills`), drift of base and source objects (`drift`), damaged state
//! files (`state`), and `--restart` and the live pipeline's wait.

mod drift;
mod kills;
mod lease;
mod state;

use std::path::{Path, PathBuf};

use crate::common::backfill;
use crate::execute::spec_for;

/// Four months, seven partitions a batch, one batch at a time (18 batches): small enough
/// to run many times, and deterministic in which batch a failpoint stops.
const SHORT: [(&str, &str); 3] = [
    ("max_concurrency: 2", "max_concurrency: 1"),
    ("end: 2026-05-31", "end: 2025-03-31"),
    ("exclude: [2025-12-25]", "exclude: [2025-01-01]"),
];

/// The short spec pointed at `wh`, with more replacements.
fn short_spec(wh: &Path, more: &[(&str, &str)]) -> PathBuf {
    let mut replace: Vec<(&str, &str)> = SHORT.to_vec();
    replace.extend_from_slice(more);
    spec_for(wh, &replace)
}

/// `backfill run SPEC --execute EXTRA` with `env`: (exit code, stdout, stderr).
fn run(spec: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = backfill();
    cmd.arg("run").arg(spec).arg("--execute").args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn restart_after_a_finished_run_runs_every_batch_again() {
    let wh = crate::common::warehouse_copy();
    let spec = short_spec(wh.path(), &[]);
    let (code, out, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("18 batches run now, 0 already done"), "{out}");
    let (code, out, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("0 batches run now, 18 already done"), "{out}");
    let first =
        std::fs::read_to_string(wh.path().join("_backfills/revenue-tax-fix-2026-06/batches/0001.json")).unwrap();
    let (code, out, err) = run(&spec, &["--restart"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("18 batches run now, 0 already done"), "{out}");
    let again =
        std::fs::read_to_string(wh.path().join("_backfills/revenue-tax-fix-2026-06/batches/0001.json")).unwrap();
    assert_ne!(first, again, "the checkpoint is rewritten");
}

#[test]
fn a_live_pipeline_that_outlasts_max_wait_stops_the_run_with_exit_3_and_a_rerun_resumes() {
    let wh = crate::common::warehouse_copy();
    let spec = short_spec(
        wh.path(),
        &[(
            "live_pipeline_marker: _live/finance.daily_revenue.running",
            "live_pipeline_marker: _live/finance.daily_revenue.running\n  live_pipeline_max_wait: 0s",
        )],
    );
    let marker = wh.path().join("_live/finance.daily_revenue.running");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "").unwrap();
    let (code, _, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains(
            "stopped before batch 1: the live pipeline marker _live/finance.daily_revenue.running was still \
                      there after 0s (execution.live_pipeline_max_wait); nothing of this batch was written"
        ),
        "{err}"
    );
    let batches = wh.path().join("_backfills/revenue-tax-fix-2026-06/batches");
    assert!(!batches.exists() || std::fs::read_dir(&batches).unwrap().count() == 0, "no checkpoint was written");
    std::fs::remove_file(&marker).unwrap();
    // The lease was given back: the rerun takes it at once and finishes.
    let (code, out, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("18 batches run now, 0 already done"), "{out}");
}
