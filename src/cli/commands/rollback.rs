//! `backfill rollback SPEC`.

use std::path::PathBuf;

use backfill::publish::rollback;
use backfill::render::Templates;
use backfill::spec::SpecIdentity;
use backfill::Error;

use crate::cli::common::{print, spec_warehouse, Global};

/// Roll a published backfill back: the consumer view reads what it read before.
///
/// Restores the view's body from before the publish in one catalog commit and records a
/// rollback row in the release ledger; the view is read back to verify it. Of the spec it
/// reads only backfill_id, target.view (or target.table) and warehouse: the rest comes
/// from the catalog, so a spec whose transform file is gone still rolls back. Refuses
/// with exit 1 when the backfill is not published, or when another backfill was
/// published over it since (roll that one back first). The shadow is kept; once rolled
/// back, the backfill may be run again.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// Who decided the rollback, recorded in the ledger (default: $USER).
    #[arg(long, value_name = "NAME")]
    approved_by: Option<String>,

    /// Folder of template overrides, as given to `run`.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let id = SpecIdentity::load(&args.spec)?;
    let wh = spec_warehouse(global, id.warehouse.as_deref(), &id.file)?;
    let who = args.approved_by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let templates = Templates::new(args.templates.as_deref());
    let r = rollback::rollback(&wh, &id.backfill_id, &id.view, &templates, &who).await?;
    print(&format!(
        "rolled back {}: {} reads its body from before the publish again\n  \
         release {} at catalog version {}, by {}; verified by reading the view back\n",
        id.backfill_id, r.dataset, r.release_id, r.catalog_version, r.approved_by
    ))
}
