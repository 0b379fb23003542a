//! Damaged state files — a truncated plan record, checkpoint, lease or catalog version —
//! are errors naming the object and the repair (exit 3), never panics; a plan record with
//! a short fingerprint is reported, not sliced; a catalog version written by a newer
//! release, with a field this one does not know, is read and its field kept.

use std::path::Path;

use super::{run, short_spec};
use crate::common::{backfill, warehouse_copy};

const STATE: &str = "_backfills/revenue-tax-fix-2026-06";

/// Cut `file` to half its length.
fn truncate(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    std::fs::write(file, &bytes[..bytes.len() / 2]).unwrap();
}

/// A short run done on a fresh copy: (warehouse, spec).
fn done() -> (tempfile::TempDir, std::path::PathBuf) {
    let wh = warehouse_copy();
    let spec = short_spec(wh.path(), &[]);
    let (code, _, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(0), "{err}");
    (wh, spec)
}

#[test]
fn each_kind_of_damaged_state_file_is_an_error_naming_it_and_its_repair() {
    let cases = [
        (format!("{STATE}/plan.json"), "rerun with `run --execute --restart`"),
        (format!("{STATE}/batches/0003.json"), "delete this checkpoint"),
        (format!("{STATE}/lease/0000000001.json"), "delete the lease/ folder"),
        ("_catalog/v00000002.json".to_string(), "restore it from a copy of the warehouse"),
    ];
    for (file, fix) in cases {
        let (wh, spec) = done();
        truncate(&wh.path().join(&file));
        let (code, _, err) = run(&spec, &[], &[]);
        assert_eq!(code, Some(3), "{file}: {err}");
        assert!(err.contains(&file) && err.contains("is damaged") && err.contains(fix), "{file}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn a_short_fingerprint_in_the_plan_record_is_reported_not_sliced() {
    let (wh, spec) = done();
    let plan = wh.path().join(STATE).join("plan.json");
    let text = std::fs::read_to_string(&plan).unwrap();
    let mut record: serde_json::Value = serde_json::from_str(&text).unwrap();
    record["fingerprint"] = "abc".into();
    std::fs::write(&plan, serde_json::to_string(&record).unwrap()).unwrap();
    let (code, _, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("the plan changed since this backfill's run began (fingerprint abc → "), "{err}");
    let status = backfill().arg("status").arg(&spec).output().unwrap();
    assert!(!String::from_utf8_lossy(&status.stderr).contains("panicked"));
}

#[test]
fn a_catalog_version_from_a_newer_release_is_read_and_its_unknown_fields_kept() {
    let wh = warehouse_copy();
    let v1 = wh.path().join("_catalog/v00000001.json");
    let mut version: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&v1).unwrap()).unwrap();
    version["owners"] = serde_json::json!({"finance": "team-a"});
    std::fs::write(&v1, serde_json::to_string(&version).unwrap()).unwrap();
    let spec = short_spec(wh.path(), &[]);
    let (code, _, err) = run(&spec, &[], &[]);
    assert_eq!(code, Some(0), "{err}");
    // The run committed version 2 (the consumer view) on top of it, keeping the field.
    let v2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wh.path().join("_catalog/v00000002.json")).unwrap()).unwrap();
    assert_eq!(v2["owners"], serde_json::json!({"finance": "team-a"}));
}
