//! Drift guards by object version: a base file rewritten in place after reconcile (same
//! size) makes publish refuse; a source file rewritten under a batch already done makes
//! the resumed run refuse, naming it, until `--restart`.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use super::{run, short_spec};
use crate::common::{backfill, executed_copy, warehouse_copy};

/// Replace `file` with a new object of the same bytes, as a writer that rewrites a
/// partition does: same size, same content, a new object (a new inode, hence a new e_tag
/// on the local file system). Never written in place: the file may be a hard link into
/// a copy other tests share.
fn replace_with_same_bytes(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::remove_file(file).unwrap();
    std::fs::write(file, &bytes).unwrap();
}

#[test]
fn publish_refuses_when_a_base_file_was_rewritten_at_the_same_size() {
    let wh = executed_copy();
    let file = wh.path().join("finance/daily_revenue/revenue_date=2025-02-03/part-0.parquet");
    let size = std::fs::metadata(&file).unwrap().len();
    replace_with_same_bytes(&file);
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);
    let out = backfill()
        .arg("--warehouse")
        .arg(wh.path())
        .args(["publish", "specs/revenue-tax-fix.yaml", "--approved-by", "x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the base table changed since these partitions were reconciled: revenue_date=2025-02-03"),
        "{stderr}"
    );
}

#[test]
fn a_resumed_run_refuses_when_a_done_batchs_source_changed_and_restart_recomputes() {
    let wh = warehouse_copy();
    let spec = short_spec(wh.path(), &[]);
    let killed = backfill()
        .arg("run")
        .arg(&spec)
        .arg("--execute")
        .env("BACKFILL_FAILPOINT", "batch-3-before-commit")
        .output()
        .unwrap();
    assert_eq!(killed.status.signal(), Some(9), "{}", String::from_utf8_lossy(&killed.stderr));
    // Batch 1 (2024-12-01..07) is done; its source partition 2024-12-02 is rewritten.
    replace_with_same_bytes(&wh.path().join("staging/revenue_events/revenue_date=2024-12-02/part-0.parquet"));
    let (code, _, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("refused to resume: the source changed under batches already done")
            && err.contains("batch 1: staging/revenue_events/revenue_date=2024-12-02/part-0.parquet (rewritten)")
            && err.contains("fix: rerun with --restart"),
        "{err}"
    );
    assert!(!err.contains("batch 2:"), "batch 2 read other partitions: {err}");
    let (code, out, err) = run(&spec, &["--restart"], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("18 batches run now, 0 already done"), "{out}");
}
