//! A lease holder paused (SIGSTOP) past its lease's expiry, taken over by a second run,
//! then resumed (SIGCONT): the first exits 4 and writes nothing more.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::{run, short_spec};
use crate::common::{root, tree_digest, warehouse_copy};

/// Whether process `pid` is stopped (state `T` in /proc/PID/stat).
fn stopped(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state follows the command name, which is in parentheses.
    stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T'))
}

#[test]
fn a_paused_holder_whose_lease_was_taken_over_exits_4_and_writes_nothing_more() {
    let wh = warehouse_copy();
    let spec = short_spec(wh.path(), &[]);
    // The first run does batch 1, writes batch 2 into staging, and stops itself (SIGSTOP)
    // just before committing it.
    let mut first = Command::new(assert_cmd::cargo::cargo_bin("backfill"))
        .current_dir(root())
        .arg("run")
        .arg(&spec)
        .arg("--execute")
        .env_remove("RUST_LOG")
        .env("BACKFILL_FAILPOINT", "stop:batch-2-before-commit")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(first.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = lines.next().expect("the first run reaches its failpoint").unwrap();
        let reached = line.contains("failpoint batch-2-before-commit: stopping");
        seen.push(line);
        if reached {
            break;
        }
    }
    // The failpoint raises SIGSTOP right after printing.
    while !stopped(first.id()) {
        std::thread::yield_now();
    }

    // Two hours later, by the second run's clock, the first's lease (60 minutes) has
    // expired: the second takes it over and finishes the backfill.
    let (code, out, err) = run(&spec, &[], &[("BACKFILL_CLOCK_SKEW", "2h")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("17 batches run now, 1 already done"), "{out}");
    assert!(err.contains("took over the run lease"), "{err}");
    let after_second = tree_digest(wh.path());

    // The first resumes: it finds generation 2 before its commit and stops.
    assert!(Command::new("kill").args(["-CONT", &first.id().to_string()]).status().unwrap().success());
    let status = first.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let stderr = format!("{}\n{}", seen.join("\n"), rest.join("\n"));
    assert_eq!(status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("this run lost its lease (generation 1) to "), "{stderr}");
    assert!(stderr.contains("(generation 2); it stops without writing anything more"), "{stderr}");
    let now = tree_digest(wh.path());
    let changed: Vec<&String> =
        now.keys().chain(after_second.keys()).filter(|k| now.get(*k) != after_second.get(*k)).collect();
    assert!(changed.is_empty(), "the first run wrote after losing its lease: {changed:?}");
}
