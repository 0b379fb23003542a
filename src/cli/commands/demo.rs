//! `backfill demo [DIR]`.

use std::path::{Path, PathBuf};
use std::process::Command;

use backfill::sample::{write_sample, SampleOptions};
use backfill::Error;

use crate::cli::common::{print, Global};

/// The fixture spec, bundled into the binary.
const SPEC: &str = include_str!("../../../specs/revenue-tax-fix.yaml");

/// Marks a folder as made by `demo`, so a rerun may replace it.
const MARKER: &str = ".backfill-demo";

/// Run every step of a backfill on a fresh copy of the bundled sample warehouse.
///
/// Writes the sample warehouse (a revenue table with a tax bug, 20 merchants a day for
/// 20 months) into DIR, with the fixture spec under DIR/_demo/, then runs validate, plan
/// (its summary), the dry run, run --execute, report (HTML), publish --approved-by demo,
/// a query of the consumer view, releases, rollback and releases again. Each command is
/// printed as you would type it, then what it printed. Running it again starts from a
/// fresh copy; DIR must be empty, missing, or an earlier demo's folder.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo warehouse.
    #[arg(default_value = "demo-warehouse")]
    dir: PathBuf,
}

pub async fn run(args: Args, _global: &Global) -> Result<(), Error> {
    let dir = &args.dir;
    prepare(dir)?;
    let spec = dir.join("_demo").join("revenue-tax-fix.yaml");
    let wh = dir.display().to_string();
    let spec_arg = spec.display().to_string();
    print(&format!("backfill demo: the bundled sample warehouse is in {wh}; the spec is {spec_arg}\n\n"))?;
    let w = ["--warehouse", wh.as_str()];
    let with = |rest: &[&str]| -> Vec<String> { w.iter().chain(rest).map(|s| s.to_string()).collect() };
    let report = dir.join("report.html").display().to_string();
    let month =
        "SELECT CAST(date_trunc('month', revenue_date) AS DATE) AS month, round(sum(net_revenue), 2) AS net_revenue \
         FROM finance.daily_revenue_current \
         WHERE revenue_date BETWEEN DATE '2024-11-01' AND DATE '2025-01-31' GROUP BY 1 ORDER BY 1";
    let steps: Vec<(&str, Vec<String>)> = vec![
        ("check the spec against the warehouse", with(&["validate", &spec_arg])),
        ("preview the plan (the summary; `plan` prints every statement after it)", with(&["plan", &spec_arg])),
        ("dry run: a sample evaluated in memory, nothing written", with(&["run", &spec_arg])),
        ("execute: the shadow table, batch by batch, reconciled and gated", with(&["run", &spec_arg, "--execute"])),
        ("the report for finance reviewers", with(&["report", &spec_arg, "--format", "html", "--out", &report])),
        (
            "publish: one atomic view swap, recorded in the ledger",
            with(&["publish", &spec_arg, "--approved-by", "demo"]),
        ),
        ("what readers now see (December onward corrected; November outside the range)", with(&["query", month])),
        ("the release ledger", with(&["releases"])),
        (
            "roll back: the view's previous body, one more catalog commit",
            with(&["rollback", &spec_arg, "--approved-by", "demo"]),
        ),
        ("the release ledger again", with(&["releases"])),
        ("what readers see after the rollback", with(&["query", month])),
    ];
    let exe = std::env::current_exe()
        .map_err(|source| Error::Io { context: "cannot find the backfill executable".into(), source })?;
    for (i, (why, argv)) in steps.iter().enumerate() {
        print(&format!(
            "── {}. {why}\n$ backfill {}\n",
            i + 1,
            argv.iter().map(|a| shell_word(a)).collect::<Vec<_>>().join(" ")
        ))?;
        let out = Command::new(&exe)
            .args(argv)
            .env("NO_COLOR", "1")
            .output()
            .map_err(|source| Error::Io { context: format!("cannot run {}", exe.display()), source })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let shown: String =
            if argv.iter().any(|a| a == "plan") { summary_of_plan(&stdout) } else { stdout.into_owned() };
        print(&shown)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            print(&stderr)?;
            return Err(Error::Gate(format!(
                "the demo stopped at step {}: `backfill {}` exited {:?}",
                i + 1,
                argv.join(" "),
                out.status.code()
            )));
        }
        print("\n")?;
    }
    print(&format!(
        "demo done: the backfill was published and rolled back; both releases are in the ledger.\n  \
         open {report} in a browser for the report\n"
    ))
}

/// Make `dir` a fresh copy of the sample warehouse with the spec under `_demo/`.
fn prepare(dir: &Path) -> Result<(), Error> {
    let io = |context: String| move |source| Error::Io { context, source };
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(io(format!("cannot read {}", dir.display())))?.next().is_none();
        if !empty && !dir.join(MARKER).exists() {
            return Err(Error::Usage(format!(
                "{} exists and was not made by `backfill demo`; not touching it\n  \
                 fix: pass another folder, e.g. `backfill demo /tmp/demo-warehouse`",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).map_err(io(format!("cannot remove the earlier demo in {}", dir.display())))?;
    }
    write_sample(dir, &SampleOptions::default())
        .map_err(io(format!("cannot write the sample warehouse into {}", dir.display())))?;
    std::fs::write(dir.join(MARKER), "made by `backfill demo`; a rerun replaces this folder\n")
        .map_err(io(format!("cannot write into {}", dir.display())))?;
    std::fs::create_dir_all(dir.join("_demo")).map_err(io(format!("cannot write into {}", dir.display())))?;
    let spec = SPEC.replace("warehouse: ../fixtures/warehouse", "warehouse: ..");
    std::fs::write(dir.join("_demo").join("revenue-tax-fix.yaml"), spec)
        .map_err(io(format!("cannot write the spec into {}", dir.display())))?;
    Ok(())
}

/// The plan's text up to its first statement.
fn summary_of_plan(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with("-- [") {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Quote a word for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    if !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}
