//! Command-line glue: clap arguments, logging, the runtime, and the one place where a
//! library error becomes a message and an exit code. An engine error that came from
//! decoding Parquet does not say which file; there the warehouse is searched for the
//! unreadable file(s), and the message names them (exit 3).

mod commands;
mod common;
mod output;
mod progress;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};

use backfill::plan::Plan;
use backfill::spec::Spec;
use backfill::warehouse::{Warehouse, WarehouseError};
use backfill::{Error, ErrorKind};

/// Compile and execute warehouse backfills safely.
///
/// A backfill is a bounded YAML spec (scope, reason, owner, transform SQL, batching,
/// tolerances, rollback). backfill compiles it into a reviewed SQL plan, writes the
/// correction into a shadow table batch by batch, reconciles old against new, and
/// publishes it with one atomic view swap that can be rolled back.
///
/// New here? `backfill demo` runs every step on a bundled sample warehouse.
///
/// Exit codes: 0 done; 1 a gate or publish check said no; 2 bad input (usage, spec,
/// SQL that does not parse); 3 a runtime failure; 4 a conflict (lock held, catalog
/// moved on).
#[derive(Debug, Parser)]
#[command(name = "backfill", version, max_term_width = 100)]
pub struct Cli {
    /// The warehouse root: a local folder or a file://, memory:// or s3:// URL.
    /// Overrides the spec's `warehouse:` field.
    #[arg(long, global = true, env = "BACKFILL_WAREHOUSE", value_name = "URL")]
    warehouse: Option<String>,

    /// The engine that runs a backfill's statements: datafusion, embedded in this
    /// process, or ballista, a cluster (see --scheduler). Overrides the spec's
    /// `execution.engine` [default: datafusion].
    #[arg(long, global = true, value_enum, value_name = "ENGINE")]
    engine: Option<backfill::spec::EngineKind>,

    /// With --engine ballista: the scheduler of a running cluster, df://HOST:PORT (see
    /// `backfill cluster`); without it, a cluster starts inside this process.
    #[arg(long, global = true, env = "BACKFILL_BALLISTA_SCHEDULER", value_name = "URL")]
    scheduler: Option<String>,

    /// Log format on stderr; set RUST_LOG (e.g. RUST_LOG=backfill=debug) for detail.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: commands::Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for machines.
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Parse arguments, run the command, map the outcome to an exit code.
pub fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)).map_err(|e| e.format(&mut Cli::command())));
    let (cli, spec) = match parsed {
        Ok((cli, matches)) => (cli, spec_argument(&matches)),
        Err(e) => {
            let code = if e.use_stderr() { ErrorKind::Input.exit_code() } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(ErrorKind::Runtime.exit_code());
        }
    };
    let global = common::Global { warehouse: cli.warehouse, engine: cli.engine, scheduler: cli.scheduler };
    match runtime.block_on(commands::run(cli.command, &global)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let e =
                if from_parquet(&e) { runtime.block_on(name_unreadable_files(e, &global, spec.as_deref())) } else { e };
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::from(e.kind().exit_code())
        }
    }
}

/// The subcommand's `SPEC` argument, for commands that take one.
fn spec_argument(matches: &clap::ArgMatches) -> Option<PathBuf> {
    let (_, sub) = matches.subcommand()?;
    sub.try_get_one::<PathBuf>("spec").ok().flatten().cloned()
}

/// An engine error raised while reading Parquet (DataFusion's message then says
/// "Parquet error" or "Parquet argument error", never which file).
fn from_parquet(e: &Error) -> bool {
    matches!(e, Error::Engine(_)) && e.to_string().contains("Parquet")
}

/// Replace engine error `e` with [`WarehouseError::Unreadable`] naming the files that
/// do not read: the base and source tables of `spec` (if given and it still plans) are
/// searched first, in its range first. `e` stays as it is when no file is found
/// unreadable or the warehouse cannot be searched.
async fn name_unreadable_files(e: Error, global: &common::Global, spec: Option<&Path>) -> Error {
    let spec = spec.and_then(|path| Spec::load(path).ok());
    let warehouse = match &spec {
        Some(spec) => common::open_warehouse(global, spec),
        None => common::global_warehouse(global),
    };
    let Ok(wh) = warehouse else { return e };
    let (focus, range) = match spec {
        Some(spec) => {
            let range = Some((spec.source_range.start, spec.source_range.end));
            let mut focus = vec![spec.target.table.clone()];
            if let Ok(plan) = Plan::build(spec, &wh).await {
                focus.extend(plan.sources.into_iter().map(|s| s.table));
            }
            (focus, range)
        }
        None => (Vec::new(), None),
    };
    let engine = match &e {
        Error::Engine(inner) => inner.to_string(),
        other => other.to_string(),
    };
    match Warehouse::find_unreadable(&wh, &focus, range).await {
        Ok(files) if !files.is_empty() => {
            Error::Warehouse(WarehouseError::Unreadable { location: wh.location().to_string(), files, engine })
        }
        _ => e,
    }
}
