//! `run --execute` killed with SIGKILL at 20 failpoints drawn with a fixed seed from
//! every batch's commit and checkpoint steps, each time resumed by the next run: the
//! shadow ends equal to an uninterrupted run's, and nothing outside it changed.

use std::os::unix::process::ExitStatusExt;

use super::short_spec;
use crate::common::{backfill, warehouse_copy};
use crate::execute::{outside_shadow, shadow_rows};

/// The steps of one batch with a failpoint, in the order a batch reaches them.
const STEPS: [&str; 4] = ["before-commit", "mid-commit", "before-checkpoint", "after-checkpoint"];

/// 20 distinct (batch, step) points of the 18 batches, drawn with a fixed seed
/// (xorshift64), in the order a run reaches them.
fn points() -> Vec<(u32, usize)> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = std::collections::BTreeSet::new();
    while out.len() < 20 {
        out.insert((1 + (next() % 18) as u32, (next() % 4) as usize));
    }
    out.into_iter().collect()
}

#[tokio::test]
async fn twenty_kills_at_random_failpoints_then_a_rerun_converge_to_an_uninterrupted_run() {
    let reference = warehouse_copy();
    let out = backfill().arg("run").arg(short_spec(reference.path(), &[])).arg("--execute").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));

    let wh = warehouse_copy();
    let outside = outside_shadow(wh.path());
    let spec = short_spec(wh.path(), &[]);
    for (batch, step) in points() {
        let name = format!("batch-{batch}-{}", STEPS[step]);
        let out = backfill().arg("run").arg(&spec).arg("--execute").env("BACKFILL_FAILPOINT", &name).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(9), "{name} was not reached: {stderr}");
        assert!(stderr.contains(&format!("failpoint {name}: killing")), "{stderr}");
    }
    // The last kill's process is gone: its lease is stale and the rerun takes it over.
    let out = backfill().arg("run").arg(&spec).arg("--execute").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(shadow_rows(wh.path()).await, shadow_rows(reference.path()).await);
    assert_eq!(outside_shadow(wh.path()), outside);
    let checkpoints = std::fs::read_dir(wh.path().join("_backfills/revenue-tax-fix-2026-06/batches")).unwrap().count();
    assert_eq!(checkpoints, 18);
}
