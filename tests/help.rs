//! `backfill --help` and every subcommand's help, pinned: a change to the CLI surface
//! shows up in review as a snapshot diff.

use crate::common::backfill;

const SUBCOMMANDS: &[&str] =
    &["validate", "plan", "run", "status", "report", "publish", "rollback", "releases", "query", "demo", "cluster"];

fn help(args: &[&str]) -> String {
    let out =
        backfill().args(args).arg("--help").env("COLUMNS", "100").env_remove("BACKFILL_WAREHOUSE").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_of_every_command_is_pinned() {
    let top = help(&[]);
    for sub in SUBCOMMANDS {
        assert!(top.contains(&format!("  {sub} ")), "`{sub}` missing from backfill --help");
    }
    insta::assert_snapshot!("help", top);
    for sub in SUBCOMMANDS {
        let text = help(&[sub]);
        assert!(text.lines().next().is_some_and(|l| !l.trim().is_empty()), "`{sub} --help` has no summary");
        insta::assert_snapshot!(format!("help-{sub}"), text);
    }
}
