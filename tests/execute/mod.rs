//! `backfill run SPEC --execute` on copies of the fixture: the shadow holds exactly the
//! corrected partitions (checked by an independent DataFusion query over the files),
//! reruns converge, a SIGKILLed run resumes, and a second concurrent run is refused.
//!
//! This module holds the helpers and the runs that succeed (exact shadow, reruns, resume
//! after SIGKILL); `stops` holds the runs that are refused or stop on a gate, a timeout
//! or bad data, each with its exit code.

mod stops;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use crate::common::{backfill, root, tree_digest, warehouse_copy};

const ID: &str = "revenue-tax-fix-2026-06";

/// The fixture spec pointed at `wh`, with replacements, written into `wh/../spec.yaml`.
pub(crate) fn spec_for(wh: &Path, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(root().join("specs/revenue-tax-fix.yaml")).unwrap();
    text = text.replace("warehouse: ../fixtures/warehouse", &format!("warehouse: {}", wh.display()));
    for (from, to) in replace {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = wh.with_extension("yaml");
    std::fs::write(&path, text).unwrap();
    path
}

pub(crate) fn execute(spec: &Path, extra: &[&str]) -> std::process::Output {
    backfill().args(["run"]).arg(spec).arg("--execute").args(extra).output().unwrap()
}

/// Start `run SPEC --execute` as a child process; its stderr (one line per batch when
/// not a terminal) is returned as a line iterator.
fn spawn_execute(spec: &Path) -> (std::process::Child, std::io::Lines<BufReader<std::process::ChildStderr>>) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("backfill"))
        .current_dir(root())
        .arg("run")
        .arg(spec)
        .arg("--execute")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}

/// Digest of everything outside the shadow, `_backfills/` and the catalog version that
/// creates the consumer view (the fixture has version 1; the run commits version 2).
pub(crate) fn outside_shadow(wh: &Path) -> Vec<(String, String)> {
    tree_digest(wh)
        .into_iter()
        .filter(|(p, _)| {
            !p.starts_with("finance/daily_revenue_v2/")
                && !p.starts_with("_backfills/")
                && p != "_catalog/v00000002.json"
        })
        .collect()
}

async fn query_count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap().value(0)
}

/// An independent session over the raw files: the shadow and the source.
async fn raw_session(wh: &Path) -> SessionContext {
    let ctx = SessionContext::new();
    let opts =
        || ParquetReadOptions::default().table_partition_cols(vec![("revenue_date".to_string(), DataType::Date32)]);
    ctx.register_parquet("shadow", wh.join("finance/daily_revenue_v2").to_str().unwrap(), opts()).await.unwrap();
    ctx.register_parquet("events", wh.join("staging/revenue_events").to_str().unwrap(), opts()).await.unwrap();
    ctx
}

/// Every shadow row, sorted, as text: equal strings mean equal shadows.
pub(crate) async fn shadow_rows(wh: &Path) -> String {
    let ctx = raw_session(wh).await;
    let batches = ctx
        .sql("SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM shadow ORDER BY 1, 2")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string()
}

pub(crate) fn partitions_in_shadow(wh: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(wh.join("finance/daily_revenue_v2"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn execute_writes_exactly_the_corrected_partitions() {
    let wh = warehouse_copy();
    let outside = outside_shadow(wh.path());
    let spec = spec_for(wh.path(), &[]);
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("78 batches run now, 0 already done; 10,920 rows written"));

    let parts = partitions_in_shadow(wh.path());
    assert_eq!(parts.len(), 546);
    assert_eq!(parts.first().unwrap(), "revenue_date=2024-12-01");
    assert_eq!(parts.last().unwrap(), "revenue_date=2026-05-31");
    assert!(!parts.contains(&"revenue_date=2025-12-25".to_string()));

    // Independently: the transform's result for the range, minus the exclusion, equals
    // the shadow row for row (EXCEPT ALL both ways is empty).
    let ctx = raw_session(wh.path()).await;
    let expected = "SELECT revenue_date, merchant_id, gross_revenue, \
                CAST(gross_revenue - tax_amount AS DECIMAL(18, 2)) AS net_revenue \
         FROM events \
         WHERE revenue_date BETWEEN DATE '2024-12-01' AND DATE '2026-05-31' AND revenue_date <> DATE '2025-12-25'";
    let actual = "SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM shadow";
    assert_eq!(query_count(&ctx, &format!("SELECT count(*) FROM ({expected} EXCEPT ALL {actual}) AS x")).await, 0);
    assert_eq!(query_count(&ctx, &format!("SELECT count(*) FROM ({actual} EXCEPT ALL {expected}) AS x")).await, 0);
    assert_eq!(query_count(&ctx, "SELECT count(*) FROM shadow").await, 546 * 20);

    assert_eq!(outside_shadow(wh.path()), outside, "run --execute wrote outside the shadow and _backfills/");
    let v2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wh.path().join("_catalog/v00000002.json")).unwrap()).unwrap();
    assert_eq!(
        v2["views"]["finance.daily_revenue_current"]["sql"], "SELECT * FROM finance.daily_revenue",
        "the run creates the consumer view over the base in a commit of its own"
    );
    let state = wh.path().join("_backfills").join(ID);
    assert!(!state.join("lock").exists(), "the lease is released");
    assert_eq!(std::fs::read_dir(state.join("batches")).unwrap().count(), 78);
    assert!(state.join("sql/0003_write_batch.sql").exists());
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("batches/0001.json")).unwrap()).unwrap();
    assert_eq!(checkpoint["state"], "done");
    assert_eq!(checkpoint["rows_written"], 140);
    assert_eq!(checkpoint["base_files"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn rerunning_a_batch_replaces_its_partitions() {
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &[]);
    assert_eq!(execute(&spec, &[]).status.code(), Some(0));
    let before = shadow_rows(wh.path()).await;
    // Mark batch 3 failed: the rerun writes it again as attempt 2.
    let checkpoint = wh.path().join("_backfills").join(ID).join("batches/0003.json");
    let mut c: serde_json::Value = serde_json::from_slice(&std::fs::read(&checkpoint).unwrap()).unwrap();
    c["state"] = "failed".into();
    std::fs::write(&checkpoint, serde_json::to_vec(&c).unwrap()).unwrap();
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 batches run now, 77 already done; 140 rows written"));
    assert_eq!(shadow_rows(wh.path()).await, before, "same rows, no duplicates");
    // Batch 3 is 2024-12-15..2024-12-21: its partitions hold only attempt 2's file.
    let files: Vec<String> = std::fs::read_dir(wh.path().join("finance/daily_revenue_v2/revenue_date=2024-12-15"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(files, ["b0003-a002-000.parquet"]);
}

#[tokio::test]
async fn a_killed_run_resumes_and_converges_to_an_uninterrupted_one() {
    let reference = warehouse_copy();
    // One partition per batch over four months: 120 batches to be killed among.
    let one_per_batch = [
        ("partitions_per_batch: 7", "partitions_per_batch: 1"),
        ("max_concurrency: 2", "max_concurrency: 1"),
        ("end: 2026-05-31", "end: 2025-03-31"),
        ("exclude: [2025-12-25]", "exclude: [2025-01-01]"),
    ];
    assert_eq!(execute(&spec_for(reference.path(), &one_per_batch), &[]).status.code(), Some(0));

    let wh = warehouse_copy();
    let outside = outside_shadow(wh.path());
    let spec = spec_for(wh.path(), &one_per_batch);
    let (mut child, mut lines) = spawn_execute(&spec);
    // Let a few batches finish, then SIGKILL the process wherever it is.
    let mut finished = 0;
    while finished < 5 {
        let line = lines.next().expect("the run reports batches").unwrap();
        if line.starts_with("batch ") {
            finished += 1;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let state = wh.path().join("_backfills").join(ID);
    let done_before = std::fs::read_dir(state.join("batches")).unwrap().count();
    assert!((5..120).contains(&done_before), "killed after {done_before} batches");

    // The dead run's lease is stale (its process is gone): the rerun takes it over.
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(shadow_rows(wh.path()).await, shadow_rows(reference.path()).await);
    assert_eq!(outside_shadow(wh.path()), outside);
}
