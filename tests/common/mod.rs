//! Shared test helpers: the binary, the repo root, warehouse copies and tree digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub mod engines;
pub mod seasonal;
pub mod tpch;

/// The repository root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled sample warehouse.
pub fn fixture_warehouse() -> PathBuf {
    root().join("fixtures/warehouse")
}

/// A `backfill` command run from the repo root, with a clean environment for logs.
pub fn backfill() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("backfill").expect("binary built");
    cmd.current_dir(root()).env_remove("BACKFILL_WAREHOUSE").env_remove("RUST_LOG");
    cmd
}

/// Copy a folder tree.
pub fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("inside");
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// A private copy of the fixture warehouse in a temp folder.
pub fn warehouse_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture_warehouse(), dir.path());
    dir
}

/// Relative path → sha256 of every file under `dir`: equal digests mean nothing was
/// written, removed or changed.
pub fn tree_digest(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).expect("inside").display().to_string();
            (rel, hex::encode(Sha256::digest(std::fs::read(e.path()).expect("read"))))
        })
        .collect()
}

/// A TPC-H warehouse at scale factor 0.01, generated once per test binary (in a thread
/// of its own, so async tests may call this too).
pub fn tpch_warehouse() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        std::thread::spawn(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let rt = tokio::runtime::Runtime::new().expect("runtime");
            rt.block_on(tpch::write_tpch(dir.path(), 0.01)).expect("tpch warehouse");
            dir
        })
        .join()
        .expect("generator thread")
    })
    .path()
}

/// The warehouse to plan `specs/<name>` against: the TPC-H spec's is generated small;
/// the others name a bundled one in their `warehouse:` field (`None`).
pub fn warehouse_override(name: &str) -> Option<&'static Path> {
    (name == "tpch-revenue-fix.yaml").then(tpch_warehouse)
}

/// A copy of the fixture after `run --execute` of the fixture spec (executed once per
/// test binary, then copied per test; its base and source files hard-linked).
pub fn executed_copy() -> tempfile::TempDir {
    static DONE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let done = DONE.get_or_init(|| {
        let dir = warehouse_copy();
        let out = backfill()
            .args(["--warehouse"])
            .arg(dir.path())
            .args(["run", "specs/revenue-tax-fix.yaml", "--execute"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        dir
    });
    copy_linking_inputs(done.path())
}

/// A copy of `done` whose base and source files are hard links to `done`'s, not copies:
/// a copy is a new object (a new inode, hence a new e_tag), which publish's drift guard
/// rightly refuses. Backfill never writes them; a test that changes one replaces it (a
/// new inode), never writes it in place.
fn copy_linking_inputs(done: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(done, dir.path());
    for linked in ["finance/daily_revenue", "staging/revenue_events"] {
        for entry in walkdir::WalkDir::new(done.join(linked)) {
            let entry = entry.expect("walk");
            if entry.file_type().is_file() {
                let to = dir.path().join(entry.path().strip_prefix(done).expect("inside"));
                std::fs::remove_file(&to).expect("remove the copy");
                std::fs::hard_link(entry.path(), &to).expect("hard link");
            }
        }
    }
    dir
}

/// A copy of [`executed_copy`] after `publish` of the fixture spec (published once per
/// test binary, then copied per test).
pub fn published_copy() -> tempfile::TempDir {
    static DONE: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let done = DONE.get_or_init(|| {
        let dir = executed_copy();
        let (code, _, err) =
            bf(dir.path(), &["publish", "specs/revenue-tax-fix.yaml", "--approved-by", "finance-lead"]);
        assert_eq!(code, Some(0), "{err}");
        dir
    });
    copy_linking_inputs(done.path())
}

/// `backfill --warehouse WH <args>`: (exit code, stdout, stderr).
pub fn bf(wh: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = backfill().arg("--warehouse").arg(wh).args(args).output().expect("run backfill");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `backfill query SQL --format csv` over `wh`, which must succeed: its stdout.
pub fn query(wh: &Path, sql: &str) -> String {
    let (code, out, err) = bf(wh, &["query", sql, "--format", "csv"]);
    assert_eq!(code, Some(0), "{err}");
    out
}

/// Thousands separators in a plain decimal string (`-303678.85` → `-303,678.85`), for
/// matching figures from an independent query against what backfill prints.
pub fn grouped(plain: &str) -> String {
    let (sign, rest) = plain.strip_prefix('-').map_or(("", plain), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    let digits: Vec<char> = int.chars().collect();
    let mut out = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(*c);
    }
    format!("{sign}{out}{}", frac.map_or(String::new(), |f| format!(".{f}")))
}

/// The single `i64` that `sql` returns on `ctx` (a `count(*)`, a `sum` of integers).
/// Panics, naming the statement, when it does not plan or run.
pub async fn count(ctx: &datafusion::prelude::SessionContext, sql: &str) -> i64 {
    let batches = ctx.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")).collect().await.unwrap();
    let column = batches[0].column(0).as_any();
    column.downcast_ref::<datafusion::arrow::array::Int64Array>().expect("an Int64 column").value(0)
}
