//! Executed = rendered (issue 13): every statement a plan renders is run by the engine
//! exactly as rendered — `run --execute`, `publish` and `rollback` together run all of
//! them — and each file saved under `_backfills/<id>/sql/` is a statement the engine's
//! executed list (its `backfill::engine` log) holds, with the same position and SQL.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::common::{backfill, warehouse_copy};

const SPEC: &str = "specs/revenue-tax-fix.yaml";

/// One statement the engine logged: (index, step, batch) and the sha256 of its SQL.
type Executed = ((u64, String, Option<u64>), String);

/// Run `backfill --warehouse WH --log-format json <args>` with the engine's log on;
/// returns stdout and the executed list: (index, step, batch) → sha256 of the SQL.
fn logged(wh: &Path, args: &[&str]) -> (String, Vec<Executed>) {
    let out = backfill()
        .env("RUST_LOG", "backfill::engine=info")
        .args(["--log-format", "json", "--warehouse"])
        .arg(wh)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    let executed = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "executed statement")
        .map(|v| {
            let f = &v["fields"];
            let key = (f["index"].as_u64().unwrap(), f["step"].as_str().unwrap().to_string(), f["batch"].as_u64());
            (key, f["sql_sha256"].as_str().unwrap().to_string())
        })
        .collect();
    (String::from_utf8_lossy(&out.stdout).to_string(), executed)
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[test]
fn every_statement_of_the_plan_is_executed_as_rendered_and_every_saved_one_was_executed() {
    let wh = warehouse_copy();
    let wh = wh.path();
    let (plan, _) = logged(wh, &["plan", SPEC, "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    let rendered: BTreeMap<u64, (String, String)> = plan["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["index"].as_u64().unwrap(),
                (s["step"].as_str().unwrap().to_string(), s["sql"].as_str().unwrap().to_string()),
            )
        })
        .collect();

    let mut executed = Vec::new();
    for args in
        [&["run", SPEC, "--execute"][..], &["publish", SPEC, "--approved-by", "finance-lead"], &["rollback", SPEC]]
    {
        executed.extend(logged(wh, args).1);
    }
    let executed_keys: BTreeSet<(u64, String, String)> =
        executed.iter().map(|((index, step, _), sha)| (*index, step.clone(), sha.clone())).collect();

    let folder = wh.join("_backfills/revenue-tax-fix-2026-06/sql");
    let mut saved = BTreeSet::new();
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let (index, step) = name.trim_end_matches(".sql").split_once('_').unwrap();
        let index: u64 = index.parse().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let sql = text.split_once('\n').unwrap().1.trim_end().trim_end_matches(';');
        assert!(
            executed_keys.contains(&(index, step.to_string(), sha256(sql))),
            "{name} was saved but the engine did not execute it as saved"
        );
        let (plan_step, plan_sql) = &rendered[&index];
        assert_eq!(
            (plan_step.as_str(), plan_sql.as_str()),
            (step, sql),
            "{name} differs from the plan's statement {index}"
        );
        saved.insert(index);
    }
    let all: BTreeSet<u64> = rendered.keys().copied().collect();
    let never: Vec<&u64> = all.difference(&saved).collect();
    assert!(never.is_empty(), "statements of the plan never executed: {never:?}");
    assert_eq!(saved.len(), 473, "the fixture plan's statements");
}
