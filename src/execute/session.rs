//! The engine: one DataFusion `SessionContext` over the warehouse. The warehouse's
//! object store is mounted at `bf://warehouse/` (the URL every rendered statement uses),
//! every discovered table is registered as a listing table with its DATE partition
//! columns typed, and catalog views are registered from the latest catalog version.
//! A table with `key=__HIVE_DEFAULT_PARTITION__` folders (Hive's folder for a NULL
//! partition value) keeps its column types; the rows of those folders read as NULL.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::TableProvider;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::functions::expr_fn::nullif;
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlanBuilder};
use datafusion::prelude::DataFrame;
use datafusion::prelude::{SessionConfig, SessionContext};
use url::Url;

use super::pruning::PartitionPruned;

use crate::catalog::CatalogVersion;
use crate::error::engine;
use crate::render::WAREHOUSE_URL;
use crate::spec::TableName;
use crate::warehouse::{PartitionType, Warehouse, HIVE_DEFAULT_PARTITION};

/// Engine errors (exit 3).
pub type EngineError = datafusion::error::DataFusionError;

pub use super::session_options::SessionOptions;

/// Open a session over `wh` with every table and every view of `catalog` registered.
///
/// DataFusion's list-files cache is on (listing thousands of partition folders for every
/// statement would dominate small batches) with a short time-to-live; a backfill reads
/// partitions it has just written, so after each commit it calls [`forget_listing`]
/// for the shadow.
///
/// Errors: engine errors registering a table or view.
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
    for table in wh.tables().await? {
        match register_listed(&ctx, wh, &table).await {
            Err(e) if opts.skip_unregistrable => {
                tracing::warn!("table {table} does not register ({e}); left out of this session");
            }
            other => other?,
        }
    }
    register_views(&ctx, catalog).await?;
    Ok(ctx)
}

/// List `table` and register it (nothing for a table without files). Errors: store, engine.
async fn register_listed(ctx: &SessionContext, wh: &Warehouse, table: &TableName) -> Result<(), crate::Error> {
    let listing = wh.list_table(table).await?;
    if listing.files.is_empty() {
        return Ok(());
    }
    let partitions = listing
        .partition_columns
        .iter()
        .map(|c| (c.name.clone(), if c.data_type == PartitionType::Date { DataType::Date32 } else { DataType::Utf8 }))
        .collect();
    let nullable: Vec<String> = listing.null_partition_columns().into_iter().map(|c| c.name.clone()).collect();
    if nullable.is_empty() {
        register_table(ctx, table, partitions, None).await
    } else {
        register_with_null_partitions(ctx, table, partitions, &nullable).await
    }
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
    let provider = listing_provider(ctx, table, partitions, file_schema).await?;
    replace_table(ctx, table, provider)
}

/// Register `table`, whose partition columns `nullable` have `key=__HIVE_DEFAULT_PARTITION__`
/// folders, as a view over its listing table: the listing reads those columns as text
/// (the engine cannot read the folder name as a DATE) and the view gives them back their
/// types in `partitions`, with the folder's rows NULL. Filters on the columns still
/// prune partitions: they reach the listing through the view.
///
/// Errors: engine errors.
async fn register_with_null_partitions(
    ctx: &SessionContext,
    table: &TableName,
    partitions: Vec<(String, DataType)>,
    nullable: &[String],
) -> Result<(), crate::Error> {
    let raw = partitions
        .iter()
        .map(|(name, t)| (name.clone(), if nullable.contains(name) { DataType::Utf8 } else { t.clone() }))
        .collect();
    let provider = listing_provider(ctx, table, raw, None).await?;
    let reference = TableReference::partial(table.schema.as_str(), table.table.as_str());
    let scan = LogicalPlanBuilder::scan(reference, provider_as_source(provider), None)
        .and_then(|b| b.build())
        .map_err(engine)?;
    let df = DataFrame::new(ctx.state(), scan);
    let columns: Vec<Expr> = df
        .schema()
        .columns()
        .into_iter()
        .map(|column| match partitions.iter().find(|(name, _)| name == &column.name && nullable.contains(name)) {
            Some((name, t)) => {
                cast(nullif(Expr::Column(column.clone()), lit(HIVE_DEFAULT_PARTITION)), t.clone()).alias(name)
            }
            None => Expr::Column(column),
        })
        .collect();
    let view = df.select(columns).map_err(engine)?.into_view();
    replace_table(ctx, table, view)
}

/// `table`'s files as a Parquet listing table, partition-pruned when it has one
/// partition column (see [`register_table`]).
async fn listing_provider(
    ctx: &SessionContext,
    table: &TableName,
    partitions: Vec<(String, DataType)>,
    file_schema: Option<SchemaRef>,
) -> Result<Arc<dyn TableProvider>, crate::Error> {
    let url = ListingTableUrl::parse(format!("{WAREHOUSE_URL}{}", table.prefix())).map_err(engine)?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions);
    let config = ListingTableConfig::new(url).with_listing_options(options);
    let config = match file_schema {
        Some(schema) => config.with_schema(schema),
        None => config.infer_schema(&ctx.state()).await.map_err(engine)?,
    };
    let provider = Arc::new(ListingTable::try_new(config).map_err(engine)?);
    Ok(match partitions_of(&provider) {
        Some(key) => Arc::new(PartitionPruned::new(provider, key)),
        None => provider,
    })
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

/// The single partition column of `table`, name and type; `None` for none or several.
fn partitions_of(table: &ListingTable) -> Option<(String, DataType)> {
    match table.options().table_partition_cols.as_slice() {
        [(name, data_type)] => Some((name.clone(), data_type.clone())),
        _ => None,
    }
}

/// Register every catalog view. Views may read other views, so registration repeats
/// until no more succeed; a view that never plans is logged and left out.
async fn register_views(ctx: &SessionContext, catalog: &CatalogVersion) -> Result<(), crate::Error> {
    let mut pending: Vec<(&String, &String)> = catalog.views.iter().map(|(n, v)| (n, &v.sql)).collect();
    loop {
        let before = pending.len();
        let mut failed = Vec::new();
        for (name, sql) in pending {
            match ctx.sql(sql).await {
                Ok(df) => {
                    let Ok(view) = TableName::parse(name) else { continue };
                    ensure_schema(ctx, &view.schema);
                    ctx.register_table(
                        TableReference::partial(view.schema.as_str(), view.table.as_str()),
                        df.into_view(),
                    )
                    .map_err(engine)?;
                }
                Err(e) => failed.push((name, sql, e)),
            }
        }
        if failed.is_empty() || failed.len() == before {
            for (name, _, e) in &failed {
                tracing::warn!(view = %name, error = %e, "catalog view does not plan; not registered");
            }
            return Ok(());
        }
        pending = failed.into_iter().map(|(n, s, _)| (n, s)).collect();
    }
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
