//! Fault injection for tests: `BACKFILL_FAILPOINT=<name>` kills the process with SIGKILL
//! (no unwinding, no cleanup, as `kill -9` or a power cut would) when it reaches the
//! failpoint of that name; `BACKFILL_FAILPOINT=stop:<name>` stops it with SIGSTOP there
//! instead, until a SIGCONT (a paused process, e.g. one that loses its lease meanwhile).
//! Each prints `failpoint <name>: killing|stopping` on stderr first.
//!
//! Names: the release steps in [`POINTS`] (publish and rollback alike, in
//! `publish::commit`); per batch N of `run --execute`: `batch-N-before-commit`,
//! `batch-N-mid-commit` (the new files moved in, the old ones not yet deleted),
//! `batch-N-before-checkpoint`, `batch-N-after-checkpoint`.

/// Every failpoint of a release, in the order a publish and then a rollback reach them:
/// after the view statement ran and before the catalog commit, after the catalog commit,
/// and after the ledger row is written (before the view is read back).
pub const POINTS: &[&str] = &[
    "publish-before-catalog-commit",
    "publish-after-catalog-commit",
    "publish-after-ledger-write",
    "rollback-before-catalog-commit",
    "rollback-after-catalog-commit",
    "rollback-after-ledger-write",
];

/// Kill or stop the process here if `BACKFILL_FAILPOINT` names this point.
pub fn hit(name: &str) {
    let Ok(wanted) = std::env::var("BACKFILL_FAILPOINT") else { return };
    if wanted == name {
        eprintln!("failpoint {name}: killing");
        signal_self(Signal::Kill);
    } else if wanted.strip_prefix("stop:") == Some(name) {
        eprintln!("failpoint {name}: stopping");
        signal_self(Signal::Stop);
    }
}

enum Signal {
    Kill,
    Stop,
}

#[cfg(unix)]
fn signal_self(signal: Signal) {
    let number = match signal {
        Signal::Kill => libc::SIGKILL,
        Signal::Stop => libc::SIGSTOP,
    };
    // SAFETY: raise(3) with a valid signal number has no preconditions.
    unsafe {
        libc::raise(number);
    }
}

#[cfg(not(unix))]
fn signal_self(signal: Signal) {
    match signal {
        Signal::Kill => std::process::abort(),
        Signal::Stop => {}
    }
}
