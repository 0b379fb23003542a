//! What several subcommands share: the global options, loading a spec with its
//! warehouse, and writing to stdout.

use std::io::Write;
use std::path::{Path, PathBuf};

use backfill::plan::Plan;
use backfill::render::{render, RenderedPlan, Templates};
use backfill::spec::Spec;
use backfill::warehouse::Warehouse;
use backfill::Error;

/// Options that apply to every subcommand.
pub struct Global {
    /// `--warehouse` or `BACKFILL_WAREHOUSE`.
    pub warehouse: Option<String>,
    /// `--engine`: overrides the spec's `execution.engine`.
    pub engine: Option<backfill::spec::EngineKind>,
    /// `--scheduler` or `BACKFILL_BALLISTA_SCHEDULER`.
    pub scheduler: Option<String>,
}

/// A spec compiled all the way to statements.
pub struct Compiled {
    pub warehouse: Warehouse,
    pub plan: Plan,
    pub rendered: RenderedPlan,
}

/// Resolve the warehouse: `--warehouse` / `BACKFILL_WAREHOUSE`, else the spec's field.
pub fn open_warehouse(global: &Global, spec: &Spec) -> Result<Warehouse, Error> {
    spec_warehouse(global, spec.source.warehouse.as_deref(), &spec.source.file)
}

/// The warehouse of `--warehouse` / `BACKFILL_WAREHOUSE`, else `from_spec` (the resolved
/// `warehouse:` field of the spec at `spec_file`).
pub fn spec_warehouse(global: &Global, from_spec: Option<&str>, spec_file: &Path) -> Result<Warehouse, Error> {
    let location = global.warehouse.clone().or_else(|| from_spec.map(str::to_string)).ok_or_else(|| {
        Error::Usage(format!(
            "{}: no warehouse given\n  \
             fix: pass --warehouse URL, set BACKFILL_WAREHOUSE, or add `warehouse:` to the spec",
            spec_file.display()
        ))
    })?;
    Ok(Warehouse::open(&location)?)
}

/// The warehouse of `--warehouse` / `BACKFILL_WAREHOUSE`, for commands without a spec.
pub fn global_warehouse(global: &Global) -> Result<Warehouse, Error> {
    let location = global.warehouse.clone().ok_or_else(|| {
        Error::Usage(
            "no warehouse given\n  fix: pass --warehouse URL (a folder, file://, s3://, ...) or set BACKFILL_WAREHOUSE"
                .into(),
        )
    })?;
    Ok(Warehouse::open(&location)?)
}

/// A DataFusion session over the `--warehouse` with the latest catalog's views, after
/// writing any ledger row a crash left out (see `publish::ledger::repair`).
pub async fn warehouse_session(global: &Global) -> Result<datafusion::prelude::SessionContext, Error> {
    let wh = global_warehouse(global)?;
    backfill::publish::ledger::repair(&wh).await?;
    let catalog = backfill::catalog::latest(&wh).await?;
    backfill::execute::session::open(&wh, &catalog, &backfill::execute::session::SessionOptions::default()).await
}

/// Spec → plan → render, reading only.
pub async fn compile(global: &Global, spec_path: &Path, templates: Option<&PathBuf>) -> Result<Compiled, Error> {
    let spec = Spec::load(spec_path)?;
    let warehouse = open_warehouse(global, &spec)?;
    let plan = Plan::build(spec, &warehouse).await?;
    let rendered = render(&plan, &Templates::new(templates.map(PathBuf::as_path)))?;
    Ok(Compiled { warehouse, plan, rendered })
}

/// Write `text` to stdout; a closed pipe surfaces as an `Io` error the caller treats as success.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io { context: "writing to stdout".into(), source })
}

/// Bytes for people: `1.2 MiB`.
pub fn bytes(n: u64) -> String {
    bytesize::ByteSize::b(n).display().iec().to_string()
}
