//! Runs that are refused or stop, each with its exit code: a second concurrent run (4), a
//! changed spec on resume (2), the row-count gate (1), a statement past `query_timeout`
//! (3), a plan over the byte budget, a NULL partition key (2); and `status` counting
//! batches by state.

use super::*;

#[test]
fn a_second_concurrent_run_exits_4() {
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &[]);
    // The live pipeline is running: the first run takes the lease, then waits.
    let marker = wh.path().join("_live/finance.daily_revenue.running");
    std::fs::create_dir_all(marker.parent().unwrap()).unwrap();
    std::fs::write(&marker, "").unwrap();
    let (mut first, mut lines) = spawn_execute(&spec);
    let waiting = lines.next().expect("the first run says it waits").unwrap();
    assert!(waiting.contains("live pipeline marker _live/finance.daily_revenue.running exists"), "{waiting}");

    let second = execute(&spec, &[]);
    assert_eq!(second.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another run holds the lease") && stderr.contains(&format!("pid {}", first.id())),
        "{stderr}"
    );

    let status = backfill().arg("status").arg(&spec).args(["--format", "json"]).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let lease = status["lease"].as_str().unwrap_or_default().to_string();
    assert!(lease.contains(&format!(" pid {} (generation 1) until ", first.id())), "{lease}");

    std::fs::remove_file(&marker).unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = first.wait().unwrap();
    assert_eq!(status.code(), Some(0), "the first run failed:\n{}", rest.join("\n"));
    assert_eq!(partitions_in_shadow(wh.path()).len(), 546);
}

#[test]
fn a_changed_spec_on_resume_exits_2_with_the_reason_and_restart_begins_again() {
    let wh = warehouse_copy();
    assert_eq!(execute(&spec_for(wh.path(), &[]), &[]).status.code(), Some(0));
    let changed = spec_for(wh.path(), &[("partitions_per_batch: 7", "partitions_per_batch: 10")]);
    let out = execute(&changed, &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the plan changed since this backfill's run began")
            && stderr.contains("changed fields: execution.partitions_per_batch"),
        "{stderr}"
    );
    let out = execute(&changed, &["--restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("55 batches run now, 0 already done"));
    assert_eq!(std::fs::read_dir(wh.path().join("_backfills").join(ID).join("batches")).unwrap().count(), 55);
}

#[test]
fn a_transform_that_drops_rows_stops_at_the_row_count_gate_with_exit_1() {
    let wh = warehouse_copy();
    let spec = spec_for(
        wh.path(),
        &[("FROM staging.revenue_events\n", "FROM staging.revenue_events\n    WHERE merchant_id <> 3 AND\n")],
    );
    let text = std::fs::read_to_string(&spec).unwrap().replace("AND\n    WHERE revenue_date", "AND\n    revenue_date");
    std::fs::write(&spec, text).unwrap();
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("failed its gate: row_count_tolerance: partition 2024-12-")
            && stderr.contains("has 20 rows in the base and 19 in the shadow"),
        "{stderr}"
    );
}

#[test]
fn status_counts_batches_by_state() {
    let wh = warehouse_copy();
    let spec = spec_for(wh.path(), &[]);
    let status = |spec: &Path| {
        let out = backfill().arg("status").arg(spec).args(["--format", "json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    assert_eq!(status(&spec)["started"], false);
    assert_eq!(execute(&spec, &[]).status.code(), Some(0));
    let s = status(&spec);
    assert_eq!((s["batches"].as_u64(), s["done"].as_u64(), s["pending"].as_u64()), (Some(78), Some(78), Some(0)));
    assert_eq!(s["rows_written"], 10_920);
    assert_eq!(s["lease"], serde_json::Value::Null, "the finished run gave its lease back");
}

#[test]
fn a_statement_past_query_timeout_fails_its_batch_and_stops_the_run_with_exit_3() {
    let wh = warehouse_copy();
    // No statement plans and writes a batch within a millisecond: the first write times out.
    let spec = spec_for(
        wh.path(),
        &[("query_timeout: 10m", "query_timeout: 1ms"), ("max_concurrency: 2", "max_concurrency: 1")],
    );
    let out = execute(&spec, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(
            "write_batch of batch 1 ran longer than execution.query_timeout (1ms); \
             the batch is not done and the run stopped"
        ),
        "{stderr}"
    );
    let batches = wh.path().join(format!("_backfills/{ID}/batches"));
    let names: Vec<String> =
        std::fs::read_dir(&batches).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["0001.json"]);
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(batches.join("0001.json")).unwrap()).unwrap();
    assert_eq!((checkpoint["state"].as_str(), checkpoint["attempt"].as_u64()), (Some("failed"), Some(1)));
    assert!(checkpoint["reason"].as_str().unwrap().contains("query_timeout"), "{checkpoint}");
    let shadow = wh.path().join("finance/daily_revenue_v2");
    assert!(!shadow.exists() || std::fs::read_dir(&shadow).unwrap().next().is_none(), "nothing may be committed");
    assert!(!wh.path().join(format!("_backfills/{ID}/lock")).exists(), "the lease is released");

    // Raising the timeout as the message says, the rerun redoes batch 1 and finishes.
    let spec = spec_for(wh.path(), &[("max_concurrency: 2", "max_concurrency: 1")]);
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let checkpoint: serde_json::Value =
        serde_json::from_slice(&std::fs::read(batches.join("0001.json")).unwrap()).unwrap();
    assert_eq!((checkpoint["state"].as_str(), checkpoint["attempt"].as_u64()), (Some("done"), Some(2)));
    assert_eq!(partitions_in_shadow(wh.path()).len(), 546);
}

#[test]
fn a_plan_estimated_above_the_byte_budget_is_refused_before_anything_runs() {
    let wh = warehouse_copy();
    let before = tree_digest(wh.path());
    let spec = spec_for(wh.path(), &[("max_bytes_scanned: 10GiB", "max_bytes_scanned: 100KiB")]);
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("above execution.max_bytes_scanned"));
    assert_eq!(tree_digest(wh.path()), before);
}

#[test]
fn a_null_partition_key_in_a_later_batch_stops_the_run_with_exit_2() {
    let wh = warehouse_copy();
    // Only rows of 2025-03-05 (batch 14) get a NULL date.
    let spec = spec_for(
        wh.path(),
        &[(
            "SELECT revenue_date, merchant_id",
            "SELECT CASE WHEN revenue_date = DATE '2025-03-05' \
             THEN NULL ELSE revenue_date END AS revenue_date, merchant_id",
        )],
    );
    let out = execute(&spec, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rows whose partition key `revenue_date` is NULL"));
    assert!(!partitions_in_shadow(wh.path()).iter().any(|p| p.contains("2025-03-05") || p.ends_with('=')));
    // The batch's error is recorded as a failed checkpoint, and status shows it.
    let status = backfill().arg("status").arg(&spec).output().unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains(", 1 failed, "), "{status}");
    assert!(status.contains("failed       batch 14: ") && status.contains("is NULL"), "{status}");
}
