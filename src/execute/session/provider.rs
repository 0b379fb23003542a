//! One warehouse table as a DataFusion table provider, split from `session.rs` for
//! length: a Parquet listing table at `bf://warehouse/<schema>/<table>/` with its DATE
//! partition columns typed, partition-pruned when it has one partition column. A table
//! with `key=__HIVE_DEFAULT_PARTITION__` folders (Hive's folder for a NULL partition
//! value) keeps its column types; the rows of those folders read as NULL.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::TableReference;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::TableProvider;
use datafusion::execution::SessionState;
use datafusion::functions::expr_fn::nullif;
use datafusion::logical_expr::{cast, lit, Expr, LogicalPlanBuilder};
use datafusion::prelude::DataFrame;

use crate::error::engine;
use crate::execute::pruning::PartitionPruned;
use crate::render::WAREHOUSE_URL;
use crate::spec::TableName;
use crate::warehouse::{PartitionType, Warehouse, HIVE_DEFAULT_PARTITION};

/// List `table` and make its provider: `None` for a table without Parquet files.
///
/// Reads the table's listing (one recursive listing of its folder), then DataFusion
/// lists it again and reads every file's footer to infer the schema (files of one
/// table must share a schema).
///
/// Errors: store failures listing; engine errors inferring the schema (a footer that
/// does not read, files whose schemas do not merge).
pub(super) async fn listed(
    state: &SessionState,
    wh: &Warehouse,
    table: &TableName,
) -> Result<Option<Arc<dyn TableProvider>>, crate::Error> {
    let listing = wh.list_table(table).await?;
    if listing.files.is_empty() {
        return Ok(None);
    }
    let partitions = listing
        .partition_columns
        .iter()
        .map(|c| (c.name.clone(), if c.data_type == PartitionType::Date { DataType::Date32 } else { DataType::Utf8 }))
        .collect();
    let nullable: Vec<String> = listing.null_partition_columns().into_iter().map(|c| c.name.clone()).collect();
    Ok(Some(if nullable.is_empty() {
        listing_provider(state, table, partitions, None).await?
    } else {
        with_null_partitions(state, table, partitions, &nullable).await?
    }))
}

/// `table`, whose partition columns `nullable` have `key=__HIVE_DEFAULT_PARTITION__`
/// folders, as a view over its listing table: the listing reads those columns as text
/// (the engine cannot read the folder name as a DATE) and the view gives them back their
/// types in `partitions`, with the folder's rows NULL. Filters on the columns still
/// prune partitions: they reach the listing through the view.
///
/// Errors: engine errors.
async fn with_null_partitions(
    state: &SessionState,
    table: &TableName,
    partitions: Vec<(String, DataType)>,
    nullable: &[String],
) -> Result<Arc<dyn TableProvider>, crate::Error> {
    let raw = partitions
        .iter()
        .map(|(name, t)| (name.clone(), if nullable.contains(name) { DataType::Utf8 } else { t.clone() }))
        .collect();
    let provider = listing_provider(state, table, raw, None).await?;
    let reference = TableReference::partial(table.schema.as_str(), table.table.as_str());
    let scan = LogicalPlanBuilder::scan(reference, provider_as_source(provider), None)
        .and_then(|b| b.build())
        .map_err(engine)?;
    let df = DataFrame::new(state.clone(), scan);
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
    Ok(df.select(columns).map_err(engine)?.into_view())
}

/// `table`'s files as a Parquet listing table with the partition columns `partitions`,
/// partition-pruned ([`PartitionPruned`]) when it has exactly one. `file_schema` is
/// required for a table with no files yet (a new shadow); otherwise it is inferred from
/// the footers of every file.
///
/// Errors: engine errors (e.g. a table with no files and no schema given).
pub(super) async fn listing_provider(
    state: &SessionState,
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
        None => config.infer_schema(state).await.map_err(engine)?,
    };
    let provider = Arc::new(ListingTable::try_new(config).map_err(engine)?);
    Ok(match partitions_of(&provider) {
        Some(key) => Arc::new(PartitionPruned::new(provider, key)),
        None => provider,
    })
}

/// The single partition column of `table`, name and type; `None` for none or several.
fn partitions_of(table: &ListingTable) -> Option<(String, DataType)> {
    match table.options().table_partition_cols.as_slice() {
        [(name, data_type)] => Some((name.clone(), data_type.clone())),
        _ => None,
    }
}
