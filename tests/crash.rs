//! Crash consistency of publish and rollback (issue 14): the process is aborted at every
//! failpoint of a release (`backfill::failpoint::POINTS`), in a real child process. After
//! each crash the consumer view is the old body or the new one, never anything else; the
//! next command (`releases`) leaves the ledger with a row for exactly each catalog
//! version that made a release, says so when it had to write one, and the interrupted
//! work can be finished (published again or rolled back).

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::{backfill, bf, executed_copy, published_copy, query};

const SPEC: &str = "specs/revenue-tax-fix.yaml";
const VIEW: &str = "finance.daily_revenue_current";
const ROWS: &str = "SELECT * FROM finance.daily_revenue_current ORDER BY revenue_date, merchant_id";

/// What readers see: the view's catalog body and its rows.
struct Side {
    body: String,
    rows: String,
}

/// The consumer view of `wh` as it is now.
fn side(wh: &Path) -> Side {
    Side { body: latest_body(wh), rows: query(wh, ROWS) }
}

/// Every catalog version of `wh`, in version order, as JSON.
fn catalog(wh: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(wh.join("_catalog")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()).collect()
}

/// The consumer view's body in the latest catalog version, read from the file itself.
fn latest_body(wh: &Path) -> String {
    let latest = catalog(wh).pop().unwrap();
    latest["views"][VIEW]["sql"].as_str().unwrap().to_string()
}

/// Release ids of the catalog versions that made a release.
fn catalog_releases(wh: &Path) -> BTreeSet<String> {
    catalog(wh).iter().filter_map(|v| v["release"]["release_id"].as_str().map(String::from)).collect()
}

/// Release ids of the ledger's rows (one file per release, named by its id).
fn ledger_rows(wh: &Path) -> BTreeSet<String> {
    std::fs::read_dir(wh.join("governance/data_releases")).map_or_else(
        |_| BTreeSet::new(),
        |d| d.map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned()).collect(),
    )
}

/// Run `backfill <args>` with failpoint `point` set; it must abort there.
fn crash_at(wh: &Path, point: &str, args: &[&str]) {
    let out = backfill().arg("--warehouse").arg(wh).args(args).env("BACKFILL_FAILPOINT", point).output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{point}: the failpoint should have aborted the process\n{stderr}");
    assert!(stderr.contains(&format!("failpoint {point}: killing")), "{point}: {stderr}");
}

/// After a crash at `point` of a release from `old` to `new`: the view is one of them
/// (`new` once the catalog commit is done), `releases` repairs exactly the missing
/// ledger row and says so, and the rows read through `query` are those of that side.
fn check_after_crash(wh: &Path, point: &str, old: &Side, new: &Side) {
    let committed = !point.ends_with("-before-catalog-commit");
    let body = latest_body(wh);
    assert!(body == old.body || body == new.body, "{point}: the view is neither the old nor the new body:\n{body}");
    assert_eq!(body == new.body, committed, "{point}: the release is committed exactly when the catalog is");

    let missing: BTreeSet<String> = catalog_releases(wh).difference(&ledger_rows(wh)).cloned().collect();
    assert_eq!(missing.is_empty(), !point.ends_with("-after-catalog-commit"), "{point}: {missing:?}");
    let (code, out, err) = bf(wh, &["releases", "--format", "csv"]);
    assert_eq!(code, Some(0), "{point}: {err}");
    for id in &missing {
        let said = format!("repaired the ledger: release {id} had a catalog version");
        assert!(err.contains(&said), "{point}: `releases` should say it repaired {id}:\n{err}");
    }
    if missing.is_empty() {
        assert!(!err.contains("repaired the ledger"), "{point}: nothing to repair:\n{err}");
    }
    let releases = catalog_releases(wh);
    assert_eq!(ledger_rows(wh), releases, "{point}: a ledger row for exactly each catalog release");
    if releases.is_empty() {
        assert_eq!(out, "no releases yet\n", "{point}");
    }
    assert_eq!(out.lines().count(), 1 + releases.len(), "{point}: {out}");
    for id in &releases {
        assert!(out.contains(&format!(",{id},")), "{point}: `releases` lacks {id}:\n{out}");
    }
    // The repair is done once: the next command has nothing to say.
    let (code, _, err) = bf(wh, &["releases"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(!err.contains("repaired the ledger"), "{point}: repaired twice:\n{err}");

    let rows = query(wh, ROWS);
    let expected = if committed { &new.rows } else { &old.rows };
    assert!(rows == *expected, "{point}: the view's rows are not that side's");
}

/// The failpoints of `action` (`publish` or `rollback`), from the library's own list.
fn points(action: &str) -> Vec<&'static str> {
    let points: Vec<&str> =
        backfill::failpoint::POINTS.iter().copied().filter(|p| p.starts_with(&format!("{action}-"))).collect();
    assert_eq!(points.len(), 3, "{points:?}");
    points
}

#[test]
fn a_crash_at_any_step_of_publish_leaves_the_old_or_new_view_and_the_next_command_repairs_the_ledger() {
    let (old, new) = (side(executed_copy().path()), side(published_copy().path()));
    assert_ne!(old.rows, new.rows);
    for point in points("publish") {
        let wh = executed_copy();
        let wh = wh.path();
        crash_at(wh, point, &["publish", SPEC, "--approved-by", "finance-lead"]);
        check_after_crash(wh, point, &old, &new);
        // The interrupted work can be finished: published again, or rolled back.
        let next: &[&str] =
            if latest_body(wh) == new.body { &["rollback", SPEC] } else { &["publish", SPEC, "--approved-by", "x"] };
        let (code, _, err) = bf(wh, next);
        assert_eq!(code, Some(0), "{point}: {next:?} after the crash: {err}");
    }
}

#[test]
fn a_crash_at_any_step_of_rollback_leaves_the_old_or_new_view_and_the_next_command_repairs_the_ledger() {
    let (old, new) = (side(published_copy().path()), side(executed_copy().path()));
    for point in points("rollback") {
        let wh = published_copy();
        let wh = wh.path();
        crash_at(wh, point, &["rollback", SPEC, "--approved-by", "finance-lead"]);
        check_after_crash(wh, point, &old, &new);
        let next: &[&str] =
            if latest_body(wh) == new.body { &["publish", SPEC, "--approved-by", "x"] } else { &["rollback", SPEC] };
        let (code, _, err) = bf(wh, next);
        assert_eq!(code, Some(0), "{point}: {next:?} after the crash: {err}");
    }
}
