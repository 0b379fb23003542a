//! Shared test helpers: the binary, the repo root, warehouse copies and tree digests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
