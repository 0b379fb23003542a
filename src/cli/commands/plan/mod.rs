//! `backfill plan SPEC [--dialect D] [--out DIR] [--format text|json]`.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::ValueEnum;
use serde::Serialize;

use backfill::plan::{Batch, Dependent, Plan};
use backfill::render::{from_executed, render, render_scripts, Statement, Templates, WAREHOUSE_URL};
use backfill::spec::{Dialect, Spec};
use backfill::Error;

use crate::cli::common::{bytes, open_warehouse, print, Global};
use backfill::number::count;

mod out;
use out::{write_scripts, write_sql_files};

/// Show what a backfill will do, before anything runs.
///
/// Prints the scope (range, partitions, exclusions, batches, estimated rows and bytes
/// per batch from Parquet footers, downstream dependents, plan fingerprint) and then
/// every statement in execution order, each under a comment naming its step and batch.
/// Reads the warehouse; writes nothing but --out.
///
/// With --dialect other than datafusion, the statements are the plan for that warehouse:
/// three scripts its own client runs (run.sql, publish.sql, rollback.sql).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// Also write every statement as a numbered .sql file into DIR (created if missing),
    /// and the plan as three scripts: DIR/run.sql, DIR/publish.sql, DIR/rollback.sql.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// The SQL dialect to render [default: the spec's `dialect:`, else datafusion].
    /// datafusion is what `run --execute` executes; the others are scripts for the
    /// warehouse's own client.
    #[arg(long, value_enum, value_name = "D")]
    dialect: Option<Dialect>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,

    /// Folder of template overrides: DIR/<name>.sql.j2 replaces the built-in template.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// For people: the scope summary, then every statement.
    Text,
    /// For machines: the same as one JSON document.
    Json,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let spec = Spec::load(&args.spec)?;
    let dialect = args.dialect.unwrap_or(spec.dialect);
    let warehouse = open_warehouse(global, &spec)?;
    let plan = Plan::build(spec, &warehouse).await?;
    let templates = Templates::new(args.templates.as_deref());
    let (scripts, executed) = match dialect {
        Dialect::DataFusion => {
            let rendered = render(&plan, &templates)?;
            (from_executed(&rendered), Some(rendered))
        }
        d => (render_scripts(&plan, &templates, d)?, None),
    };
    let statements: Vec<&Statement> = match &executed {
        Some(rendered) => rendered.statements().collect(),
        None => scripts.statements().collect(),
    };
    let listing = Listing { dialect, fingerprint: &scripts.fingerprint, statements };
    if let Some(dir) = &args.out {
        write_sql_files(dir, &plan, &listing)?;
        write_scripts(dir, &plan, &scripts)?;
    }
    match args.format {
        Format::Text => print(&text(&plan, &listing, warehouse.location())),
        Format::Json => {
            let doc = JsonPlan::new(&plan, &listing, warehouse.location());
            print(&(serde_json::to_string_pretty(&doc).expect("plan serializes") + "\n"))
        }
    }
}

/// The statements `plan` lists, in order: the executed plan's for DataFusion, the three
/// scripts' for a warehouse dialect.
pub(super) struct Listing<'a> {
    pub(super) dialect: Dialect,
    pub(super) fingerprint: &'a str,
    pub(super) statements: Vec<&'a Statement>,
}

/// The comment line above a statement: `-- [3] batch 1/78 · write_batch: …`.
pub(super) fn header(s: &Statement, plan: &Plan, dialect: Dialect) -> String {
    let batch = s.batch.and_then(|n| plan.batches.get(n as usize - 1));
    match batch {
        Some(b) => format!(
            "-- [{}] batch {}/{} ({}) · {}: {}",
            s.index,
            b.number,
            plan.batches.len(),
            span(b),
            s.step,
            s.step.describe_in(dialect)
        ),
        None => format!("-- [{}] {}: {}", s.index, s.step, s.step.describe_in(dialect)),
    }
}

fn span(b: &Batch) -> String {
    if b.partitions.len() == 1 {
        b.start().to_string()
    } else {
        format!("{}..{}, {} partitions", b.start(), b.end(), b.partitions.len())
    }
}

fn dependents(list: &[Dependent]) -> String {
    if list.is_empty() {
        return "none found".into();
    }
    list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// The analyst's view: a scope summary, then every statement.
fn text(plan: &Plan, rendered: &Listing, warehouse: &str) -> String {
    let spec = &plan.spec;
    let r = &spec.source_range;
    let days = (r.end - r.start).num_days() + 1;
    let total = plan.estimate();
    let largest = plan.batches.iter().max_by_key(|b| b.estimate.bytes).expect("a plan has a batch");
    let excluded = if r.exclude.is_empty() {
        "none".to_string()
    } else {
        r.exclude.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    };
    let sources = plan
        .sources
        .iter()
        .map(|s| match &s.partition_column {
            Some(c) => format!("{} (by {c})", s.table),
            None => format!("{} (whole table per batch)", s.table),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut o = String::new();
    let _ = writeln!(o, "-- backfill plan: {}", spec.backfill_id);
    let keys = if spec.target.keys.is_empty() { "whole rows".to_string() } else { spec.target.keys.join(", ") };
    let view_state = match (plan.view.exists, rendered.dialect) {
        (true, _) => "exists",
        (false, Dialect::DataFusion) => "created by the first step",
        (false, _) => "not in backfill's catalog: its body before publish is taken as SELECT * FROM the base table",
    };
    let (execution, target) = (&spec.execution, &spec.target);
    let mut facts = vec![
        ("reason", format!("{} ({}): {}", spec.reason.issue, spec.reason.kind, spec.reason.change)),
        ("owner", spec.owner.clone()),
        ("warehouse", format!("{warehouse} (mounted as {WAREHOUSE_URL}), catalog version {}", plan.catalog_version)),
        ("base table", format!("{} (partition key {}; keys {keys})", target.table, target.partition_key)),
        ("shadow", target.shadow.to_string()),
        ("view", format!("{} ({view_state})", target.view)),
        ("range", format!("{}..{}: {} days", r.start, r.end, days)),
        ("partitions", format!("{} to recompute; excluded: {excluded}", plan.partitions.len())),
        (
            "batches",
            format!(
                "{} of up to {} partitions, at most {} in flight",
                plan.batches.len(),
                execution.partitions_per_batch,
                execution.max_concurrency
            ),
        ),
        ("sources", sources),
        (
            "estimate",
            format!(
                "{} rows, {} in {} files; largest batch {} ({} rows, {})",
                count(total.rows),
                bytes(total.bytes),
                count(total.files),
                largest.number,
                count(largest.estimate.rows),
                bytes(largest.estimate.bytes)
            ),
        ),
    ];
    if let Some(limit) = execution.max_bytes_scanned {
        let verdict =
            if total.bytes > limit { "OVER the limit: run --execute will refuse" } else { "within the limit" };
        facts.push(("budget", format!("max_bytes_scanned {}: {verdict}", bytes(limit))));
    }
    facts.push(("downstream", dependents(&plan.downstream)));
    facts.push(("statements", format!("{} ({} dialect)", rendered.statements.len(), rendered.dialect)));
    facts.push(("fingerprint", format!("sha256:{}", rendered.fingerprint)));
    o.push_str(&backfill::layout::pairs(&facts, "--   "));
    // One header above each step, whose statements may be several (BEGIN; DELETE; …).
    for run in backfill::render::by_step(rendered.statements.iter().copied()) {
        let s = run[0];
        let est = match (s.step, s.batch.and_then(|n| plan.batches.get(n as usize - 1))) {
            (backfill::render::Step::WriteBatch, Some(b)) => {
                format!(
                    "\n-- estimate: {} rows, {} read from {} files",
                    count(b.estimate.rows),
                    bytes(b.estimate.bytes),
                    b.estimate.files
                )
            }
            _ => String::new(),
        };
        let _ = write!(o, "\n{}{est}\n", header(s, plan, rendered.dialect));
        for s in run {
            let _ = writeln!(o, "{};", s.sql);
        }
    }
    o
}

/// `plan --format json`.
#[derive(Serialize)]
struct JsonPlan<'a> {
    format_version: u32,
    backfill_id: &'a str,
    warehouse: &'a str,
    dialect: &'a str,
    fingerprint: &'a str,
    tool_version: &'a str,
    plan: &'a Plan,
    estimate: backfill::plan::Estimate,
    statements: Vec<&'a Statement>,
}

impl<'a> JsonPlan<'a> {
    fn new(plan: &'a Plan, rendered: &Listing<'a>, warehouse: &'a str) -> Self {
        Self {
            format_version: 1,
            backfill_id: &plan.spec.backfill_id,
            warehouse,
            dialect: rendered.dialect.name(),
            fingerprint: rendered.fingerprint,
            tool_version: backfill::render::TOOL_VERSION,
            plan,
            estimate: plan.estimate(),
            statements: rendered.statements.clone(),
        }
    }
}
