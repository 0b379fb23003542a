//! `backfill publish SPEC`.

use std::path::PathBuf;

use backfill::publish::{self, PublishOptions};
use backfill::Error;

use crate::cli::common::{compile, print, Global};
use backfill::number::count;

/// Publish an executed backfill: swap the consumer view in one atomic catalog commit.
///
/// Refuses with exit 1, changing nothing, unless every batch is done and passed its
/// gates, the plan is the one executed (and the --fingerprint given), the base table's
/// files in the range are as they were when reconciled, and reason.kind is recompute
/// (or --allow-reinterpretation is given). Then the view reads the shadow for the source
/// range and its previous body elsewhere; the previous catalog version is tagged with
/// rollback.snapshot; a row goes into governance.data_releases; and the view is read back
/// to verify it. Losing a race with another catalog commit exits 4.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// Who approved the release, recorded in the ledger.
    #[arg(long, value_name = "NAME")]
    approved_by: String,

    /// The plan fingerprint the approver reviewed (from the report; at least 12 hex
    /// characters, `sha256:` optional). Publishing refuses when it differs.
    #[arg(long, value_name = "HASH")]
    fingerprint: Option<String>,

    /// Allow publishing a spec whose reason.kind is reinterpretation.
    #[arg(long)]
    allow_reinterpretation: bool,

    /// Folder of template overrides, as given to `run`.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    if args.approved_by.trim().is_empty() {
        return Err(Error::Usage("--approved-by must name someone".into()));
    }
    let c = compile(global, &args.spec, args.templates.as_ref()).await?;
    let opts = PublishOptions {
        approved_by: args.approved_by.clone(),
        fingerprint: args.fingerprint.clone(),
        allow_reinterpretation: args.allow_reinterpretation,
    };
    let r = publish::publish(&c.plan, &c.rendered, &c.warehouse, &opts).await?;
    let spec = &c.plan.spec;
    print(&format!(
        "published {}: {} now reads {} for {} ({} partitions, {} rows) and its previous body elsewhere\n  \
         release {} at catalog version {}, approved by {}; verified by reading the view back\n  \
         the previous version is tagged {}; undo with: backfill rollback {}\n",
        spec.backfill_id,
        r.dataset,
        spec.target.shadow,
        r.source_range,
        r.partitions,
        count(r.rows_written),
        r.release_id,
        r.catalog_version,
        r.approved_by,
        spec.rollback.snapshot,
        args.spec.display()
    ))
}
