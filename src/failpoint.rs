//! Crash injection for tests: `BACKFILL_FAILPOINT=<name>` aborts the process (no unwinding,
//! no cleanup, as a power cut would) when it reaches the failpoint of that name. The
//! names are [`POINTS`]: every step boundary of a release (publish and rollback alike,
//! in `publish::commit`).

/// Every failpoint, in the order a publish and then a rollback reach them: after the
/// view statement ran and before the catalog commit, after the catalog commit, and after
/// the ledger row is written (before the view is read back).
pub const POINTS: &[&str] = &[
    "publish-before-catalog-commit",
    "publish-after-catalog-commit",
    "publish-after-ledger-write",
    "rollback-before-catalog-commit",
    "rollback-after-catalog-commit",
    "rollback-after-ledger-write",
];

/// Abort the process here if `BACKFILL_FAILPOINT` names this point (one of [`POINTS`]).
pub fn hit(name: &str) {
    debug_assert!(POINTS.contains(&name), "failpoint {name} is not listed in failpoint::POINTS");
    if std::env::var("BACKFILL_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
