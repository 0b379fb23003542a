//! The transform's source tables, split from the plan's root for length: each relation
//! the transform reads must be a catalog view or an existing table, and a table's DATE
//! partition column (the spec's key, or its only DATE one) is found for pruning.

use crate::catalog::CatalogVersion;
use crate::spec::{Spec, TableName};
use crate::warehouse::{PartitionType, Warehouse};
use crate::Error;

use super::{table_list, Source};

/// Resolve the relations `names` the transform reads into [`Source`]s.
pub(super) async fn resolve_sources(
    spec: &Spec,
    wh: &Warehouse,
    tables: &[TableName],
    catalog: &CatalogVersion,
    names: &[String],
) -> Result<Vec<Source>, Error> {
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
        let table = TableName::parse(name).map_err(|_| {
            missing(format!("the transform reads `{name}`, which is not a `schema.table` name; {}", table_list(tables)))
        })?;
        if catalog.views.contains_key(name) {
            out.push(Source { table, partition_column: None });
            continue;
        }
        if !tables.contains(&table) {
            return Err(missing(format!(
                "the transform reads `{name}`, which does not exist in warehouse {}; {}",
                wh.location(),
                table_list(tables)
            ))
            .into());
        }
        let listing = wh.list_table(&table).await?;
        let dates: Vec<_> = listing.partition_columns.iter().filter(|c| c.data_type == PartitionType::Date).collect();
        let partition_column = dates
            .iter()
            .find(|c| c.name == spec.target.partition_key)
            .or(if dates.len() == 1 { dates.first() } else { None })
            .map(|c| c.name.clone());
        out.push(Source { table, partition_column });
    }
    Ok(out)
}
