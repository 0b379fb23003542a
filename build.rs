//! Build script: records the git revision being built for `backfill::build_info`.
//!
//! vergen-gitcl runs `git rev-parse HEAD` and sets `VERGEN_GIT_SHA`. Outside a git work
//! tree (a source tarball), or without git, it warns and sets a placeholder instead, which
//! `build_info` reads as no revision: the build never fails for want of git.

use std::process::Command;

use vergen_gitcl::{Emitter, Gitcl};

fn main() {
    let git = Gitcl::builder().sha(false).build();
    let emitted = Emitter::default().add_instructions(&git).and_then(|emitter| emitter.emit());
    if let Err(e) = emitted {
        println!("cargo:warning=no git revision recorded: {e}");
    }
    // vergen watches HEAD and the loose ref it names, which misses commits in a linked
    // worktree (its branch ref lives in the main repository) and packed refs; HEAD's
    // reflog grows on every commit and checkout wherever the work tree is.
    let reflog = Command::new("git").args(["rev-parse", "--git-path", "logs/HEAD"]).output();
    if let Some(out) = reflog.ok().filter(|o| o.status.success()) {
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
