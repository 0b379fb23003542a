//! `backfill validate SPEC`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use backfill::render::{render_scripts, Templates};
use backfill::spec::Dialect;
use backfill::Error;

use crate::cli::common::{compile, print, Global};

/// Check a spec against the warehouse without running anything.
///
/// Reads the spec (unknown fields, identifiers, dates, range, batching, gates), checks
/// that the base table, its DATE partition key, key columns and the transform's source
/// tables exist, renders every statement and parses it back; and the same in the spec's
/// `dialect:` and each dialect of `transform.dialects`, with that dialect's parser. Writes nothing. Exits 2
/// with the spec's file:line:col and a fix when something is wrong.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The backfill spec (YAML).
    spec: PathBuf,

    /// Folder of template overrides: DIR/<name>.sql.j2 replaces the built-in template.
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let c = compile(global, &args.spec, args.templates.as_ref()).await?;
    let spec = &c.plan.spec;
    let mut dialects: BTreeSet<Dialect> = spec.transform.dialects.keys().copied().collect();
    dialects.insert(spec.dialect);
    dialects.remove(&Dialect::DataFusion);
    let templates = Templates::new(args.templates.as_deref());
    let mut also = String::new();
    for dialect in dialects {
        let scripts = render_scripts(&c.plan, &templates, dialect)?;
        also.push_str(&format!("  also as {dialect} scripts: {} statements\n", scripts.statements().count()));
    }
    print(&format!(
        "ok: {} is valid\n  backfill {} against {}: {} partitions in {} batches, {} statements\n  \
         fingerprint sha256:{}\n{also}",
        args.spec.display(),
        spec.backfill_id,
        c.warehouse.location(),
        c.plan.partitions.len(),
        c.plan.batches.len(),
        c.rendered.statements().count(),
        c.rendered.fingerprint,
    ))
}
