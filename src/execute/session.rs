//! The engine: one DataFusion `SessionContext` over the warehouse. The warehouse's
//! object store is mounted at `bf://warehouse/` (the URL every rendered statement uses),
//! and every schema of the warehouse and of the latest catalog's views is a
//! [`lazy::LazySchema`]: a table is listed, and its schema inferred, the first time a
//! statement reads it (its DATE partition columns typed, see [`provider`]); a catalog view
//! is planned the first time a statement reads it.

mod lazy;
mod provider;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::TableProvider;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use url::Url;

use crate::catalog::CatalogVersion;
use crate::error::engine;
use crate::render::WAREHOUSE_URL;
use crate::spec::TableName;
use crate::warehouse::Warehouse;

/// Engine errors (exit 3).
pub type EngineError = datafusion::error::DataFusionError;

pub use super::session_options::SessionOptions;

/// Open a session over `wh` where every table of the warehouse and every view of
/// `catalog` can be read (as `schema.table`), registering none of them yet.
///
/// Opening lists the warehouse's schema and table folders only (one delimiter listing
/// for the root and one per schema). A table is registered the first time a statement
/// reads it: its files are listed and the footer of each is read to infer its schema.
/// A table without files is not a table. A table that does not register fails the
/// statement reading it — or, with `opts.skip_unregistrable`, is left out with a
/// warning (the statement then finds no such table). A catalog view is planned the first
/// time a statement reads it; one that never plans is logged and left out. Tables
/// registered in the session ([`register_table`], `CREATE …` statements) hide a folder or
/// view of the same name.
///
/// DataFusion's list-files cache is on (listing thousands of partition folders for every
/// statement would dominate small batches) with a short time-to-live; a backfill reads
/// partitions it has just written, so after each commit it calls [`forget_listing`]
/// for the shadow.
///
/// Errors: engine errors building the runtime; store errors listing the folders.
pub async fn open(
    wh: &Warehouse,
    catalog: &CatalogVersion,
    opts: &SessionOptions,
) -> Result<SessionContext, crate::Error> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(opts.memory_limit)))
        .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_ttl(Some(LIST_CACHE_TTL)))
        .build_arc()
        .map_err(engine)?;
    let url = Url::parse(WAREHOUSE_URL).expect("constant URL");
    runtime.register_object_store(&url, wh.store().clone());
    let config = SessionConfig::new().with_target_partitions(opts.target_partitions.max(1));
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    let mut schemas: BTreeMap<String, (BTreeSet<String>, BTreeMap<String, String>)> = BTreeMap::new();
    for table in wh.tables().await? {
        schemas.entry(table.schema).or_default().0.insert(table.table);
    }
    for (name, view) in &catalog.views {
        if let Ok(view_name) = TableName::parse(name) {
            schemas.entry(view_name.schema).or_default().1.insert(view_name.table, view.sql.clone());
        }
    }
    let default = ctx.catalog("datafusion").expect("the default catalog exists");
    for (schema, (folders, views)) in schemas {
        let weak = ctx.state_weak_ref();
        let state: lazy::CurrentState = Box::new(move || weak.upgrade().map(|s| s.read().clone()));
        let provider = lazy::LazySchema::new(wh, &schema, folders, views, opts.skip_unregistrable, state);
        default.register_schema(&schema, Arc::new(provider)).map_err(engine)?;
    }
    Ok(ctx)
}

/// How long a table's cached file listing is trusted.
pub const LIST_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Drop the cached file listing of `table`, so that the next statement sees files just
/// committed into it.
pub fn forget_listing(ctx: &SessionContext, table: &TableName) {
    if let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() {
        let path = object_store::path::Path::from(format!("{}/{}", table.schema, table.table));
        for scope in [None, Some(TableReference::partial(table.schema.as_str(), table.table.as_str()))] {
            cache.remove(&datafusion::execution::cache::TableScopedPath { table: scope, path: path.clone() });
        }
    }
}

/// Make sure schema `schema` exists in `ctx`'s default catalog (an empty in-memory schema
/// when neither the warehouse nor the catalog has it), so that tables can be registered in it.
pub(crate) fn ensure_schema(ctx: &SessionContext, schema: &str) {
    let catalog = ctx.catalog("datafusion").expect("the default catalog exists");
    if catalog.schema(schema).is_none() {
        let _ = catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new()));
    }
}

/// Register (or replace) `table` as a Parquet listing table at `bf://warehouse/<schema>/<table>/`.
/// `file_schema` is required for a table with no files yet (a new shadow); otherwise it
/// is inferred from the files.
///
/// Errors: engine errors (e.g. a table with no files and no schema given).
pub async fn register_table(
    ctx: &SessionContext,
    table: &TableName,
    partitions: Vec<(String, DataType)>,
    file_schema: Option<SchemaRef>,
) -> Result<(), crate::Error> {
    let provider = provider::listing_provider(&ctx.state(), table, partitions, file_schema).await?;
    replace_table(ctx, table, provider)
}

/// Register `provider` as `table`, replacing what was registered under that name.
fn replace_table(
    ctx: &SessionContext,
    table: &TableName,
    provider: Arc<dyn TableProvider>,
) -> Result<(), crate::Error> {
    ensure_schema(ctx, &table.schema);
    let reference = TableReference::partial(table.schema.as_str(), table.table.as_str());
    let _ = ctx.deregister_table(reference.clone()).map_err(engine)?;
    ctx.register_table(reference, provider).map_err(engine)?;
    Ok(())
}

/// An in-memory table: a name, its schema and its rows.
pub type MemoryTable = (TableName, SchemaRef, Vec<datafusion::arrow::record_batch::RecordBatch>);

/// A session where each of `tables` is an in-memory table: one batch's partitions of
/// the base and of the shadow. The rendered reconciliation statements run in it as they are.
///
/// The tables hold a few partitions, so planning, not execution, is the cost of every
/// statement: one thread, one optimizer pass, and of the logical optimizer only the two
/// rules the physical planner needs (COALESCE becomes CASE; join keys become equi-join
/// keys for a hash join). Optimizer rules never change results, so leaving the others
/// out only makes plans less clever; it halves planning time.
///
/// Errors: schemas that cannot form tables (engine error).
pub fn in_memory(tables: Vec<MemoryTable>) -> Result<SessionContext, crate::Error> {
    use datafusion::optimizer::extract_equijoin_predicate::ExtractEquijoinPredicate;
    use datafusion::optimizer::simplify_expressions::SimplifyExpressions;
    use datafusion::optimizer::OptimizerRule;
    let mut config = SessionConfig::new().with_target_partitions(1).with_information_schema(false);
    config.options_mut().optimizer.max_passes = 1;
    let rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> =
        vec![Arc::new(SimplifyExpressions::new()), Arc::new(ExtractEquijoinPredicate::new())];
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_optimizer_rules(rules)
        .build();
    let ctx = SessionContext::new_with_state(state);
    for (name, schema, rows) in tables {
        ensure_schema(&ctx, &name.schema);
        let mem = datafusion::datasource::MemTable::try_new(schema, vec![rows]).map_err(engine)?;
        ctx.register_table(TableReference::partial(name.schema.as_str(), name.table.as_str()), Arc::new(mem))
            .map_err(engine)?;
    }
    Ok(ctx)
}
