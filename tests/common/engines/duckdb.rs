//! A DuckDB database file in a temp folder for tests, driven by the `duckdb` command-line
//! client (PyPI `duckdb-cli`, v1.x). `.ci/run` installs it when missing; without it the tests
//! fail saying how to install it.
//!
//! The client reads no `~/.duckdbrc` (`-init /dev/null`) and stops at the first error of a
//! script only with `-bail`: without it, it reports the error, runs the rest and exits 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{load_script, Dialect, SqlEngine};

/// What a missing `duckdb` is told to do.
const INSTALL: &str = "install the DuckDB CLI with `python3 -m venv ~/.cache/backfill-ci/venv && \
                       ~/.cache/backfill-ci/venv/bin/pip install duckdb-cli` (or put a `duckdb` binary on PATH, \
                       or name it in BACKFILL_DUCKDB); `.ci/run` does this";

/// A DuckDB database file in a temp folder, removed on drop.
pub struct DuckDb {
    /// The folder of the database file and of loaded CSVs.
    dir: tempfile::TempDir,
    /// The database file (created by the first command).
    db: PathBuf,
    /// The `duckdb` client.
    bin: PathBuf,
}

impl DuckDb {
    /// A new, empty database. The client is `$BACKFILL_DUCKDB`, else `duckdb` on PATH, else
    /// `${XDG_CACHE_HOME:-$HOME/.cache}/backfill-ci/venv/bin/duckdb` (where `.ci/run` puts it).
    ///
    /// Panics, saying how to install it, when none of them exists.
    pub fn new() -> Self {
        let bin = client().unwrap_or_else(|| panic!("the engine tests need the duckdb CLI: {INSTALL}"));
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("test.duckdb");
        Self { dir, db, bin }
    }

    /// The client with `options` on the database, reading no init file, stdin closed.
    fn client(&self, options: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-init", "/dev/null"]).args(options).arg(&self.db).stdin(Stdio::null());
        cmd
    }
}

impl SqlEngine for DuckDb {
    /// Through a CSV file that DataFusion writes and `COPY ... FROM` loads.
    fn load_table(&self, warehouse: &Path, table: &str) {
        self.run_script(&load_script(self.dir.path(), Dialect::DuckDb, warehouse, table));
    }

    /// `duckdb -bail DBFILE < FILE`.
    fn try_run_script(&self, path: &Path) -> Result<String, String> {
        let script = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        let mut cmd = self.client(&["-bail"]);
        cmd.stdin(script);
        let out = cmd.output().unwrap_or_else(|e| panic!("run {} ({e}): {INSTALL}", self.bin.display()));
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        match out.status.success() {
            true => Ok(text(&out.stdout)),
            false => Err(format!("{}{}", text(&out.stderr), text(&out.stdout))),
        }
    }

    /// `duckdb -noheader -list -separator '|' -nullvalue NULL DBFILE -c SQL`.
    fn rows(&self, sql: &str) -> Vec<String> {
        let mut cmd = self.client(&["-noheader", "-list", "-separator", "|", "-nullvalue", "NULL"]);
        cmd.args(["-c", sql]);
        let out = cmd.output().unwrap_or_else(|e| panic!("run {} ({e}): {INSTALL}", self.bin.display()));
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        assert!(out.status.success(), "{sql}:\n{}{}", text(&out.stderr), text(&out.stdout));
        text(&out.stdout).lines().map(String::from).collect()
    }
}

/// The `duckdb` client: `$BACKFILL_DUCKDB`, `duckdb` on PATH, or the CI virtualenv's.
fn client() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("BACKFILL_DUCKDB") {
        let named = PathBuf::from(named);
        assert!(named.is_file(), "BACKFILL_DUCKDB names no file: {}", named.display());
        return Some(named);
    }
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join("duckdb")).collect::<Vec<_>>())
        .unwrap_or_default();
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")));
    let venv = cache.map(|cache| cache.join("backfill-ci/venv/bin/duckdb"));
    on_path.into_iter().chain(venv).find(|candidate| candidate.is_file())
}
