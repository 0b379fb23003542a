//! `backfill run SPEC`: the dry run.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use backfill::execute::run::ExecuteOptions;
use backfill::execute::session::SessionOptions;
use backfill::layout;
use backfill::number::{count, or_null, percent};
use backfill::reconcile::dry_run::{dry_run, Coverage, DryRunOptions, DEFAULT_SAMPLE};
use backfill::reconcile::{BatchOutcome, BatchReconciler};
use backfill::render::Templates;
use backfill::report::{self, date_list, DryRunSummary, Report};
use backfill::spec::EngineKind;
use backfill::Error;

use crate::cli::common::{bytes, compile, print, Global};
use crate::cli::progress::Reporter;

/// Dry-run a backfill (the default), or execute it into the shadow table with --execute.
///
/// Evaluates the transform in memory twice and compares the result with the base table
/// using the plan's own reconciliation statements: rows unchanged / changed / added /
/// removed, each metric old → new against its expected delta, the largest changes and
/// samples of each class. When the estimated scan of the whole range fits
/// --dry-run-budget, the whole range is evaluated and every delta is exactly what
/// --execute will report; otherwise a sample stratified by month (--sample partitions, at
/// least two per month) is evaluated and each delta is an estimate with a 95 % bootstrap
/// interval, its gate PASS, FAIL or UNCERTAIN. Reports excluded partitions, partitions
/// with no source data and non-determinism (the two evaluations differ). Writes nothing.
/// --format md or html prints the same report `backfill report` gives after a run, for a
/// reviewer to read before anything is written.
///
/// With --execute, writes the shadow table batch by batch instead: each batch is
/// written to a staging prefix, committed into the shadow's partitions (replacing any
/// earlier attempt), reconciled against the base (structural, aggregate, row-level),
/// gated, and checkpointed under _backfills/<id>/batches/. A failed gate stops the run
/// with exit 1. A rerun skips done batches and redoes the rest. The first run creates
/// the consumer view over the base table (a catalog commit) if it does not exist; a
/// published backfill is refused until it is rolled back.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// Write the shadow table for real (without it, a dry run that writes nothing).
    #[arg(long)]
    execute: bool,

    /// With --execute: take over the run lease even if another run seems to hold it.
    #[arg(long, requires = "execute")]
    force_unlock: bool,

    /// With --execute: discard the shadow and the checkpoints of an earlier run and begin again.
    #[arg(long, requires = "execute")]
    restart: bool,

    /// Evaluate the whole range when its estimated scan (Parquet footers) fits this size,
    /// e.g. 1GiB or 200MB; above it, evaluate a sample.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1GiB")]
    dry_run_budget: u64,

    /// Above the budget: partitions to sample (at least two per month of the range).
    #[arg(long, default_value_t = DEFAULT_SAMPLE, value_name = "N")]
    sample: usize,

    /// Memory the engine may use before spilling, e.g. 2GiB [default: a quarter of RAM].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<u64>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Folder of template overrides: DIR/<name>.sql.j2 replaces the built-in template.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

fn parse_size(text: &str) -> Result<u64, String> {
    backfill::spec::units::parse_size(text)
}

/// Output formats of `run`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For machines: the report's JSON (as `backfill report --format json`, with its
    /// `dry_run` section).
    Json,
    /// The report as Markdown, for a pull request or ticket, before anything runs.
    Md,
    /// The report as one self-contained HTML page with charts, before anything runs.
    Html,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    if args.sample == 0 {
        return Err(Error::Usage("--sample must be 1 or more".into()));
    }
    let c = compile(global, &args.spec, args.templates.as_ref()).await?;
    let mut opts = SessionOptions::default();
    if let Some(limit) = args.memory_limit {
        opts.memory_limit = limit as usize;
    }
    if args.execute {
        return execute(&args, &c, opts, global).await;
    }
    let templates = Templates::new(args.templates.as_deref());
    let options = DryRunOptions { budget: args.dry_run_budget, sample: args.sample, session: opts };
    let found = dry_run(&c.plan, &c.warehouse, &templates, &options).await?;
    let r = report::from_dry_run(&c.plan, &c.rendered.fingerprint, found);
    match args.format {
        Format::Json => print(&(serde_json::to_string_pretty(&r).expect("serializes") + "\n")),
        Format::Text => print(&r.dry_run.as_ref().map(|d| text(&r, d, &c.plan, &args, global)).unwrap_or_default()),
        Format::Md => print(&report::markdown::render(&r)?),
        Format::Html => print(&report::html::render(&r)?),
    }
}

async fn execute(
    args: &Args,
    c: &crate::cli::common::Compiled,
    session: SessionOptions,
    global: &Global,
) -> Result<(), Error> {
    let engine = global.engine.unwrap_or(c.plan.spec.execution.engine);
    if engine != EngineKind::Ballista && global.scheduler.is_some() {
        return Err(Error::Usage(format!(
            "--scheduler (or BACKFILL_BALLISTA_SCHEDULER) names a Ballista scheduler, but the engine is {engine}\n  \
             fix: add --engine ballista (or `execution.engine: ballista` in the spec), or leave the scheduler out"
        )));
    }
    let opts = ExecuteOptions {
        session,
        force_unlock: args.force_unlock,
        restart: args.restart,
        engine,
        scheduler: global.scheduler.clone(),
    };
    let dir = backfill::state::BackfillDir::new(&c.plan.spec.backfill_id);
    // For the progress bar only: unreadable checkpoints are the run's to report.
    let done = backfill::state::checkpoints::<BatchOutcome>(&c.warehouse, &dir)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|k| k.state == backfill::state::BatchState::Done && k.fingerprint == c.rendered.fingerprint)
        .count();
    let reporter =
        std::sync::Arc::new(Reporter::new(c.plan.batches.len() as u64, if args.restart { 0 } else { done as u64 }));
    // The CLI strings the stages together: the run executes, the reconciler checks.
    let checks = std::sync::Arc::new(BatchReconciler::new(&c.plan, &c.rendered, &c.warehouse));
    let result =
        backfill::execute::run::execute(&c.plan, &c.rendered, &c.warehouse, &opts, reporter.clone(), checks.clone())
            .await;
    reporter.finish();
    let summary = result?;
    let mut whole = String::new();
    if let Some(range) = &checks.range() {
        for (m, pair) in c.plan.spec.validation.metrics.iter().zip(&range.metrics) {
            whole.push_str(&format!(
                "  whole range: {} {} → {} ({})\n",
                m.name,
                or_null(pair.old.as_ref()),
                or_null(pair.new.as_ref()),
                percent(pair.percent())
            ));
        }
    }
    print(&format!(
        "executed {}: {} batches run now, {} already done; {} rows written, {} read; every gate passed\n\
         {whole}  \
         shadow {} holds the corrected partitions; nothing is published yet\n  \
         next: backfill report {} --format html, then backfill publish {} --approved-by NAME\n",
        c.plan.spec.backfill_id,
        summary.done,
        summary.skipped,
        count(summary.rows_written),
        bytes(summary.bytes_scanned),
        c.plan.spec.target.shadow,
        args.spec.display(),
        args.spec.display()
    ))
}

/// The dry run's report as text for a terminal.
fn text(r: &Report, d: &DryRunSummary, plan: &backfill::plan::Plan, args: &Args, global: &Global) -> String {
    let c = &r.rows;
    let mut o = String::new();
    let _ = writeln!(o, "dry run of {}: nothing was written", plan.spec.backfill_id);
    let (partitions, estimated, budget) = (count(r.scope.partitions as u64), bytes(d.estimated_bytes), bytes(d.budget));
    let mut facts: Vec<(String, String)> = Vec::new();
    match d.coverage {
        Coverage::WholeRange => {
            let scan = format!("estimated scan {estimated} fits the budget {budget}");
            facts.push((
                "evaluated".into(),
                format!("the whole range, {partitions} partitions ({scan}): the deltas are exact"),
            ));
        }
        Coverage::Sample => {
            let n = d.evaluated.len();
            facts.push((
                "evaluated".into(),
                format!(
                    "a sample of {n} of {partitions} partitions, \
                     every month represented (estimated scan {estimated} is over \
                     the budget {budget}): the deltas are estimates"
                ),
            ));
            facts.push(("sampled".into(), date_list(&d.evaluated)));
        }
    }
    let rows = format!(
        "{} unchanged, {} changed, {} added, {} removed",
        count(c.unchanged),
        count(c.changed),
        count(c.added),
        count(c.removed)
    );
    facts.push(("rows".into(), rows));
    for m in &r.metrics {
        let delta = match (m.percent, m.interval) {
            (None, _) => "n/a (old is 0 or NULL)".to_string(),
            (Some(p), None) => percent(Some(p)),
            (Some(p), Some([lo, hi])) => format!(
                "{}, 95 % interval {} to {}, {} of {} partitions",
                percent(Some(p)),
                percent(Some(lo)),
                percent(Some(hi)),
                d.evaluated.len(),
                count(r.scope.partitions as u64)
            ),
        };
        let over = if m.interval.is_some() { " over the sample" } else { "" };
        let verdict = match (m.expected, m.verdict) {
            (Some(e), Some(v)) => format!(
                "; expected {e}: {}",
                match v {
                    backfill::reconcile::Verdict::Pass => "inside",
                    backfill::reconcile::Verdict::Fail => "OUTSIDE",
                    backfill::reconcile::Verdict::Uncertain => "UNCERTAIN (the interval straddles a bound)",
                }
            ),
            (Some(e), None) => format!("; expected {e}"),
            (None, _) => String::new(),
        };
        let (old, new) = (or_null(m.old.as_ref()), or_null(m.new.as_ref()));
        facts.push((m.name.clone(), format!("{old} → {new}{over} ({delta}){verdict}")));
    }
    facts.push(("excluded".into(), date_list(&r.skipped.excluded)));
    facts.push(("without source".into(), date_list(&r.skipped.without_source)));
    let det = if d.deterministic {
        "yes: two evaluations gave identical rows"
    } else {
        "NO: two evaluations of the same partitions differ; make the transform deterministic before running it"
    };
    facts.push(("deterministic".into(), det.into()));
    o.push_str(&layout::pairs(&facts, "  "));
    let _ = writeln!(o, "\ngates:");
    let gates: Vec<Vec<String>> =
        r.gates.iter().map(|g| vec![g.verdict.word().to_string(), g.name.to_string(), g.detail.clone()]).collect();
    o.push_str(&layout::columns(&[], &gates, "  "));
    for x in &r.outliers {
        let _ = writeln!(o, "  outlier {} {} {} (this partition alone)", x.partition, x.metric, percent(x.percent));
    }
    let limit = plan.spec.validation.sample_rows;
    for (title, rows) in [
        ("largest changes", &r.top_changes),
        ("unchanged rows", &r.unchanged_sample),
        ("added rows", &r.added_sample),
        ("removed rows", &r.removed_sample),
    ] {
        let _ = writeln!(o, "\n{title} (up to {limit}):");
        o.push_str(&if rows.rows.is_empty() { "  none\n".to_string() } else { rows.to_text(2) });
    }
    let e = &d.estimate;
    let _ = writeln!(
        o,
        "\nfull run: {} partitions in {} batches; estimated {} source rows, {} read",
        plan.partitions.len(),
        plan.batches.len(),
        count(e.rows),
        bytes(e.bytes)
    );
    let warehouse = global.warehouse.as_ref().map(|w| format!(" --warehouse {w}")).unwrap_or_default();
    let _ = writeln!(o, "to execute: backfill run {}{warehouse} --execute", args.spec.display());
    o
}
