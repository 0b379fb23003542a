//! Crash injection for tests: `BACKFILL_FAILPOINT=<name>` aborts the process (no unwinding,
//! no cleanup, as a power cut would) when it reaches the failpoint of that name. Names:
//! `publish-after-catalog-commit`, `rollback-after-catalog-commit`.

/// Abort the process here if `BACKFILL_FAILPOINT` names this point.
pub fn hit(name: &str) {
    if std::env::var("BACKFILL_FAILPOINT").is_ok_and(|v| v == name) {
        eprintln!("failpoint {name}: aborting");
        std::process::abort();
    }
}
