//! The transform's source tables, split from the plan's root for length: each relation
//! the transform reads must be a catalog view or an existing table, and a table's DATE
//! partition column (the spec's key, or its only DATE one) is found for pruning.

use std::collections::HashMap;

use crate::catalog::CatalogVersion;
use crate::spec::{Spec, TableName};
use crate::warehouse::{PartitionType, TableListing, Warehouse, WarehouseError};
use crate::Error;

use super::{table_list, Source};

/// A source and, for a table, its listing (kept for the estimates).
pub(super) struct Resolved {
    /// The source.
    pub(super) source: Source,
    /// The table's files; `None` for a catalog view.
    pub(super) listing: Option<TableListing>,
}

/// Listings made ahead of [`resolve_sources`], by table (a failed one fails there).
pub(super) type Listed = HashMap<TableName, Result<TableListing, WarehouseError>>;

/// The tables among relations `names` that [`resolve_sources`] will list: `schema.table`
/// names that are neither catalog views nor the base table.
pub(super) fn tables_to_list(spec: &Spec, catalog: &CatalogVersion, names: &[String]) -> Vec<TableName> {
    let mut out: Vec<TableName> = names
        .iter()
        .filter(|n| !catalog.views.contains_key(*n))
        .filter_map(|n| TableName::parse(n).ok())
        .filter(|t| *t != spec.target.table)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// List `tables` at once.
pub(super) async fn list_all(wh: &Warehouse, tables: Vec<TableName>) -> Listed {
    let listings = futures::future::join_all(tables.iter().map(|t| wh.list_table(t))).await;
    tables.into_iter().zip(listings).collect()
}

/// Resolve the relations `names` the transform reads into [`Source`]s, listing each
/// table among them once (`base`, the base table's listing, and `listed` are reused).
///
/// Errors: [`Error::Spec`] at the transform for a relation that is not a `schema.table`
/// name or not a table nor a catalog view; store failures listing.
pub(super) async fn resolve_sources(
    spec: &Spec,
    wh: &Warehouse,
    catalog: &CatalogVersion,
    names: &[String],
    base: &TableListing,
    mut listed: Listed,
) -> Result<Vec<Resolved>, Error> {
    let mut out = Vec::new();
    for name in names {
        let at = crate::plan::transform::find_in_transform(spec, name);
        let missing = |what: String| {
            crate::plan::transform::transform_error(
                spec,
                at,
                what,
                "read from tables that exist in the warehouse, written as schema.table",
            )
        };
        let Ok(table) = TableName::parse(name) else {
            let tables = table_list(wh).await?;
            return Err(
                missing(format!("the transform reads `{name}`, which is not a `schema.table` name; {tables}")).into()
            );
        };
        if catalog.views.contains_key(name) {
            out.push(Resolved { source: Source { table, partition_column: None }, listing: None });
            continue;
        }
        let listing = match listed.remove(&table) {
            _ if table == base.table => base.clone(),
            Some(listing) => listing?,
            None => wh.list_table(&table).await?,
        };
        if listing.files.is_empty() && !wh.has_table(&table).await? {
            return Err(missing(format!(
                "the transform reads `{name}`, which does not exist in warehouse {}; {}",
                wh.location(),
                table_list(wh).await?
            ))
            .into());
        }
        let dates: Vec<_> = listing.partition_columns.iter().filter(|c| c.data_type == PartitionType::Date).collect();
        let partition_column = dates
            .iter()
            .find(|c| c.name == spec.target.partition_key)
            .or(if dates.len() == 1 { dates.first() } else { None })
            .map(|c| c.name.clone());
        out.push(Resolved { source: Source { table, partition_column }, listing: Some(listing) });
    }
    Ok(out)
}
