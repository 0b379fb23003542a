//! `backfill rollback SPEC`.

use std::path::PathBuf;

use backfill::publish::rollback;
use backfill::render::Templates;
use backfill::Error;

use crate::cli::common::{compile, print, Global};

/// Roll a published backfill back: the consumer view reads what it read before.
///
/// Restores the view's body from before the publish in one catalog commit and records a
/// rollback row in the release ledger; the view is read back to verify it. Refuses with
/// exit 1 when the backfill is not published, or when another backfill was published
/// over it since (roll that one back first). The shadow is kept; once rolled back, the
/// backfill may be run again.
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
    let c = compile(global, &args.spec, args.templates.as_ref()).await?;
    let who = args.approved_by.clone().or_else(|| std::env::var("USER").ok()).unwrap_or_else(|| "unknown".into());
    let templates = Templates::new(args.templates.as_deref());
    let r = rollback::rollback(&c.plan, &c.rendered, &templates, &c.warehouse, &who).await?;
    print(&format!(
        "rolled back {}: {} reads its body from before the publish again\n  \
         release {} at catalog version {}, by {}; verified by reading the view back\n",
        c.plan.spec.backfill_id, r.dataset, r.release_id, r.catalog_version, r.approved_by
    ))
}
