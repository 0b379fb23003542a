//! `backfill run SPEC`: the dry run.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;

use backfill::execute::dry_run::{dry_run, DryRun, DEFAULT_SAMPLE};
use backfill::execute::run::ExecuteOptions;
use backfill::execute::session::SessionOptions;
use backfill::render::Templates;
use backfill::Error;

use crate::cli::common::{bytes, compile, print, thousands, Global};
use crate::cli::progress::Reporter;

/// Dry-run a backfill (the default), or execute it into the shadow table with --execute.
///
/// Picks a representative sample of the partitions to recompute (the first, the last,
/// both sides of a month boundary, then evenly spread ones), evaluates the transform for
/// them twice, and compares the result with the base table using the plan's own
/// reconciliation statements: rows unchanged / changed / added / removed, each metric old
/// → new against its expected delta, the largest changes and some unchanged rows. Reports
/// excluded partitions, partitions with no source data, non-determinism (the two
/// evaluations differ) and every gate checked on the sample. Writes nothing anywhere.
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

    /// How many partitions to evaluate.
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
    /// For machines.
    Json,
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
        return execute(&args, &c, opts).await;
    }
    let templates = Templates::new(args.templates.as_deref());
    let report = dry_run(&c.plan, &c.warehouse, &templates, args.sample, &opts).await?;
    match args.format {
        Format::Json => print(&(serde_json::to_string_pretty(&report).expect("serializes") + "\n")),
        Format::Text => print(&text(&report, &c.plan, &args, global)),
    }
}

async fn execute(args: &Args, c: &crate::cli::common::Compiled, session: SessionOptions) -> Result<(), Error> {
    let opts = ExecuteOptions { session, force_unlock: args.force_unlock, restart: args.restart };
    let dir = backfill::execute::state::BackfillDir::new(&c.plan.spec.backfill_id);
    let done = backfill::execute::state::checkpoints(&c.warehouse, &dir).await?.iter().filter(|k| k.state == backfill::execute::state::BatchState::Done && k.fingerprint == c.rendered.fingerprint).count();
    let reporter = std::sync::Arc::new(Reporter::new(c.plan.batches.len() as u64, if args.restart { 0 } else { done as u64 }));
    let result = backfill::execute::run::execute(&c.plan, &c.rendered, &c.warehouse, &opts, reporter.clone()).await;
    reporter.finish();
    let summary = result?;
    print(&format!(
        "executed {}: {} batches run now, {} already done; {} rows written, {} read; every gate passed\n  shadow {} holds the corrected partitions; nothing is published yet\n  next: backfill report {} --format html, then backfill publish {} --approved-by NAME\n",
        c.plan.spec.backfill_id,
        summary.done,
        summary.skipped,
        thousands(summary.rows_written),
        bytes(summary.bytes_scanned),
        c.plan.spec.target.shadow,
        args.spec.display(),
        args.spec.display()
    ))
}

fn dates(list: &[chrono::NaiveDate]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

fn text(r: &DryRun, plan: &backfill::plan::Plan, args: &Args, global: &Global) -> String {
    let c = &r.classes;
    let mut o = String::new();
    let _ = writeln!(o, "dry run of {}: nothing was written", plan.spec.backfill_id);
    let _ = writeln!(o, "  sampled         {} of {} partitions: {}", r.sampled.len(), plan.partitions.len(), dates(&r.sampled));
    let _ = writeln!(o, "  rows            {} unchanged, {} changed, {} added, {} removed", thousands(c.unchanged), thousands(c.changed), thousands(c.added), thousands(c.removed));
    for m in &r.metrics {
        let pct = m.percent.map_or("n/a (old is 0)".to_string(), |p| format!("{p:+.3}%"));
        let verdict = match (m.expected, m.within()) {
            (Some(e), Some(true)) => format!("; expected {e}: inside"),
            (Some(e), Some(false)) => format!("; expected {e}: OUTSIDE"),
            (Some(e), None) => format!("; expected {e}"),
            (None, _) => String::new(),
        };
        let _ = writeln!(o, "  {:<15} {:.2} → {:.2} ({pct}){verdict}", m.name, m.old, m.new);
    }
    let _ = writeln!(o, "  excluded        {}", dates(&r.excluded));
    let _ = writeln!(o, "  without source  {}", dates(&r.without_source));
    let det = if r.deterministic { "yes: two evaluations gave identical rows" } else { "NO: two evaluations of the same partitions differ; make the transform deterministic before running it" };
    let _ = writeln!(o, "  deterministic   {det}");
    let _ = writeln!(o, "\ngates on the sample:");
    for g in &r.gates {
        let _ = writeln!(o, "  {} {:<28} {}", if g.passed { "pass" } else { "FAIL" }, g.name, g.detail);
    }
    for x in &r.outliers {
        let pct = x.percent.map_or("n/a".to_string(), |p| format!("{p:+.3}%"));
        let _ = writeln!(o, "  outlier {} {} {pct}", x.partition, x.metric);
    }
    let limit = plan.spec.validation.sample_rows;
    for (title, rows) in [("largest changes", &r.changed_rows), ("unchanged rows", &r.unchanged_rows), ("added rows", &r.added_rows), ("removed rows", &r.removed_rows)] {
        let _ = writeln!(o, "\n{title} (up to {limit}):");
        o.push_str(&if rows.rows.is_empty() { "  none\n".to_string() } else { rows.to_text(2) });
    }
    let e = &r.estimate;
    let _ = writeln!(o, "\nfull run: {} partitions in {} batches; estimated {} source rows, {} read", plan.partitions.len(), plan.batches.len(), thousands(e.rows), bytes(e.bytes));
    let warehouse = global.warehouse.as_ref().map(|w| format!(" --warehouse {w}")).unwrap_or_default();
    let _ = writeln!(o, "to execute: backfill run {}{warehouse} --execute", args.spec.display());
    o
}
