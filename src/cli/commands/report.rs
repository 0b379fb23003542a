//! `backfill report SPEC`.

use std::path::PathBuf;

use clap::ValueEnum;
use object_store::{ObjectStoreExt, PutPayload};

use backfill::error::store_err;
use backfill::report;
use backfill::state::{self, BackfillDir, PlanRecord};
use backfill::Error;

use crate::cli::common::{compile, print, Global};

/// Write the reconciliation report of a backfill's run, for finance reviewers.
///
/// Built from the batch checkpoints under _backfills/<id>/batches/ and the whole-range
/// record _backfills/<id>/range.json without recomputing anything: reason, owner, scope,
/// plan fingerprint, every gate with its verdict, each metric over the whole range old →
/// new against its expected range (one query over all base and all shadow rows in range,
/// exact for decimals), each batch's own deltas, outliers, the largest changes, samples,
/// skipped partitions and downstream dependents. The report is also kept in the
/// warehouse as _backfills/<id>/report.<md|json|html>.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// md for a pull request or ticket, json for machines, html for a reviewer's browser
    /// (one self-contained file with charts).
    #[arg(long, value_enum, default_value_t = Format::Md)]
    format: Format,

    /// Also write the report to FILE. Without it, md and json are printed; html is only
    /// written to the warehouse, and its path printed.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Folder of template overrides, as given to `run`.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// Markdown.
    Md,
    /// JSON with a schema version.
    Json,
    /// A self-contained HTML page with SVG charts.
    Html,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let c = compile(global, &args.spec, args.templates.as_ref()).await?;
    let spec = &c.plan.spec;
    let dir = BackfillDir::new(&spec.backfill_id);
    let Some(record) = state::read_json::<PlanRecord>(&c.warehouse, &dir.plan()).await? else {
        return Err(Error::Usage(format!(
            "backfill {} has not run yet: there is nothing to report\n  fix: backfill run {} --execute",
            spec.backfill_id,
            args.spec.display()
        )));
    };
    if record.fingerprint != c.rendered.fingerprint {
        tracing::warn!(
            "the spec changed since the run began; the report shows the run's checkpoints (fingerprint {})",
            state::short_fingerprint(&record.fingerprint)
        );
    }
    let checkpoints: Vec<backfill::reconcile::Checkpoint> = state::checkpoints(&c.warehouse, &dir).await?;
    let range = state::read_json::<backfill::reconcile::RangeReconciliation>(&c.warehouse, &dir.range()).await?;
    let r = report::build(&c.plan, &record.fingerprint, &checkpoints, range.as_ref());
    let (text, ext) = match args.format {
        Format::Md => (report::markdown::render(&r)?, "md"),
        Format::Json => (serde_json::to_string_pretty(&r).expect("serializes") + "\n", "json"),
        Format::Html => (report::html::render(&r)?, "html"),
    };
    let kept = object_store::path::Path::from(format!("{}/report.{ext}", dir.root()));
    c.warehouse
        .store()
        .put(&kept, PutPayload::from(text.clone().into_bytes()))
        .await
        .map_err(|e| store_err(&c.warehouse, e))?;
    if let Some(out) = &args.out {
        std::fs::write(out, &text)
            .map_err(|source| Error::Io { context: format!("cannot write {}", out.display()), source })?;
        return print(&format!(
            "wrote {} (and {}/{kept})\n",
            out.display(),
            c.warehouse.location().trim_end_matches('/')
        ));
    }
    match args.format {
        Format::Html => print(&format!("wrote {}/{kept}\n", c.warehouse.location().trim_end_matches('/'))),
        _ => print(&text),
    }
}
