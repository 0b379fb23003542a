//! `backfill status SPEC`.

use std::path::PathBuf;

use clap::ValueEnum;
use serde::Serialize;

use backfill::spec::Spec;
use backfill::state::{self, BackfillDir, BatchState, PlanRecord};
use backfill::Error;

use crate::cli::common::{bytes, open_warehouse, print, Global};
use backfill::number::count;

/// Show how far a backfill's run has got: batches by state, rows, bytes, rate, ETA.
///
/// Reads the checkpoints under _backfills/<id>/ without compiling or running anything.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Output formats of `status`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// What `status` reports.
#[derive(Debug, Serialize)]
struct Status {
    backfill_id: String,
    started: bool,
    fingerprint: Option<String>,
    batches: u32,
    done: u32,
    failed: Vec<(u32, String)>,
    pending: u32,
    rows_written: u64,
    bytes_scanned: u64,
    elapsed_seconds: f64,
    rows_per_second: Option<f64>,
    eta_seconds: Option<f64>,
    /// Who holds the run lease now, if anyone: `owner@host pid N (generation G) until T`.
    lease: Option<String>,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let spec = Spec::load(&args.spec)?;
    let wh = open_warehouse(global, &spec)?;
    let dir = BackfillDir::new(&spec.backfill_id);
    let record: Option<PlanRecord> = state::read_json(&wh, &dir.plan()).await?;
    let checkpoints: Vec<backfill::reconcile::Checkpoint> = state::checkpoints(&wh, &dir).await?;
    let lease = state::current_lease(&wh, &dir)
        .await?
        .filter(|l| !l.is_stale(backfill::clock::now()))
        .map(|l| format!("{} until {}", l.holder(), l.expires_at.format("%Y-%m-%d %H:%M:%S UTC")));
    let total = record.as_ref().map_or(0, |r| r.batches);
    let done: Vec<_> = checkpoints.iter().filter(|c| c.state == BatchState::Done).collect();
    let failed: Vec<(u32, String)> = checkpoints
        .iter()
        .filter(|c| c.state == BatchState::Failed)
        .map(|c| (c.batch, c.reason.clone().unwrap_or_default()))
        .collect();
    // Time spent in batches (not wall time between runs), spread over the batches in flight.
    let busy: f64 = done.iter().map(|c| (c.finished_at - c.started_at).num_milliseconds().max(0) as f64 / 1000.0).sum();
    let elapsed = busy / f64::from(spec.execution.max_concurrency);
    let rows: u64 = done.iter().map(|c| c.rows_written).sum();
    let pending = total.saturating_sub(done.len() as u32);
    let per_batch = (!done.is_empty() && elapsed > 0.0).then(|| elapsed / done.len() as f64);
    // `elapsed` is already per slot of concurrency, so per_batch × pending is wall time.
    let status = Status {
        backfill_id: spec.backfill_id.clone(),
        started: record.is_some(),
        fingerprint: record.as_ref().map(|r| r.fingerprint.clone()),
        batches: total,
        done: done.len() as u32,
        failed,
        pending,
        rows_written: rows,
        bytes_scanned: done.iter().map(|c| c.bytes_scanned).sum(),
        elapsed_seconds: elapsed,
        rows_per_second: (elapsed > 0.0).then(|| rows as f64 / elapsed),
        eta_seconds: per_batch.map(|p| p * pending as f64),
        lease,
    };
    match args.format {
        Format::Json => print(&(serde_json::to_string_pretty(&status).expect("serializes") + "\n")),
        Format::Text => print(&text(&status)),
    }
}

fn text(s: &Status) -> String {
    if !s.started {
        return format!("{}: not started; `backfill run SPEC --execute` begins it\n", s.backfill_id);
    }
    let mut o = format!(
        "{}: {} of {} batches done, {} failed, {} pending\n",
        s.backfill_id,
        s.done,
        s.batches,
        s.failed.len(),
        s.pending
    );
    let rate = s.rows_per_second.map_or("n/a".to_string(), |r| format!("{} rows/s", count(r as u64)));
    let eta = match (s.pending, s.eta_seconds) {
        (0, _) => "complete".to_string(),
        (_, Some(e)) => format!("about {e:.0}s at the rate so far"),
        (_, None) => "unknown".to_string(),
    };
    let mut facts = vec![
        ("rows".to_string(), format!("{} written, {} read", count(s.rows_written), bytes(s.bytes_scanned))),
        ("busy".to_string(), format!("{:.1}s in batches ({rate})", s.elapsed_seconds)),
        ("eta".to_string(), eta),
    ];
    facts.push(("lease".to_string(), s.lease.clone().unwrap_or_else(|| "free: no run is going".to_string())));
    facts.extend(s.failed.iter().map(|(batch, reason)| ("failed".to_string(), format!("batch {batch}: {reason}"))));
    if let Some(f) = &s.fingerprint {
        facts.push(("fingerprint".to_string(), format!("sha256:{f}")));
    }
    o.push_str(&backfill::layout::pairs(&facts, "  "));
    o
}
