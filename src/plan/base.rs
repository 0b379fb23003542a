//! The base table's checks, split from the plan's root for length: the table exists, is
//! partitioned by one DATE column (the spec's `partition_key`) and has files; its columns
//! have types backfill can declare, and every column the spec names (keys, not-null
//! columns, value tolerances) exists, a tolerance only on a numeric non-key column.

use datafusion::arrow::datatypes::DataType;

use crate::spec::Spec;
use crate::sql::sql_type;
use crate::warehouse::{read_footer, PartitionType, TableListing, Warehouse};
use crate::Error;

use super::{table_list, Column};

/// The base table's listing, once it is known to be a table of daily DATE partitions.
pub(super) async fn base_listing(spec: &Spec, wh: &Warehouse) -> Result<TableListing, Error> {
    let base = &spec.target.table;
    let listing = wh.list_table(base).await?;
    if listing.files.is_empty() && !wh.has_table(base).await? {
        return Err(spec
            .error_at(
                "target.table",
                format!("table `{base}` does not exist in warehouse {}; {}", wh.location(), table_list(wh).await?),
                "name an existing table, or point --warehouse at the right warehouse",
            )
            .into());
    }
    let key = &spec.target.partition_key;
    let names = || listing.partition_columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ");
    match listing.partition_column(key) {
        None => Err(spec
            .error_at(
                "target.partition_key",
                format!(
                    "`{key}` is not a partition column of `{base}`; its partition columns: {}",
                    if listing.partition_columns.is_empty() { "none".to_string() } else { names() }
                ),
                "name the column of the table's key=value folders",
            )
            .into()),
        Some(c) if c.data_type != PartitionType::Date => Err(spec
            .error_at(
                "target.partition_key",
                format!("partition column `{key}` of `{base}` holds values that are not YYYY-MM-DD dates"),
                "backfill recomputes daily DATE partitions; choose a DATE partition column",
            )
            .into()),
        Some(_) if listing.partition_columns.len() > 1 => Err(spec
            .error_at(
                "target.partition_key",
                format!("`{base}` is partitioned by {}; backfill supports exactly one DATE partition column", names()),
                "backfill a table partitioned by one DATE column",
            )
            .into()),
        Some(_) if listing.files.is_empty() => Err(spec
            .error_at(
                "target.table",
                format!("table `{base}` has no Parquet files"),
                "backfill corrects existing tables; load the table first",
            )
            .into()),
        Some(_) => Ok(listing),
    }
}

/// The base table's columns (from its newest file's footer), the partition key last.
pub(super) async fn base_columns(spec: &Spec, wh: &Warehouse, listing: &TableListing) -> Result<Vec<Column>, Error> {
    let newest = listing.files.last().expect("checked non-empty");
    let stats = read_footer(wh, newest).await?;
    let base = &spec.target.table;
    let key = &spec.target.partition_key;
    let mut columns = Vec::new();
    for field in stats.schema.fields() {
        if field.name() == key {
            continue;
        }
        let sql_type = sql_type(field.data_type()).ok_or_else(|| {
            spec.error_at(
                "target.table",
                format!(
                    "column `{}` of `{base}` has type {}, which backfill cannot cast or declare",
                    field.name(),
                    field.data_type()
                ),
                "backfill tables of scalar columns (numbers, decimals, text, dates, timestamps)",
            )
        })?;
        columns.push(Column {
            name: field.name().clone(),
            data_type: field.data_type().clone(),
            sql_type,
            is_partition: false,
        });
    }
    columns.push(Column {
        name: key.clone(),
        data_type: DataType::Date32,
        sql_type: "DATE".into(),
        is_partition: true,
    });
    let all = || columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ");
    let checks = spec
        .target
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| (format!("target.keys[{i}]"), k))
        .chain(spec.validation.not_null.iter().enumerate().map(|(i, c)| (format!("validation.not_null[{i}]"), c)));
    let tolerances = spec.validation.value_tolerance.keys().map(|c| (format!("validation.value_tolerance.{c}"), c));
    for (field, name) in checks.chain(tolerances.clone()) {
        if !columns.iter().any(|c| &c.name == name) {
            return Err(spec
                .error_at(
                    &field,
                    format!("column `{name}` does not exist in `{base}`; its columns: {}", all()),
                    "name a column of the base table",
                )
                .into());
        }
    }
    for (field, name) in tolerances {
        let column = columns.iter().find(|c| &c.name == name).expect("checked above");
        let t = &column.data_type;
        let numeric =
            t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
        if !numeric || column.is_partition || spec.target.keys.contains(name) {
            let why = format!(
                "column `{name}` ({}) is not a numeric value column: \
                 a tolerance applies to decimal, integer or float columns that are not keys",
                column.sql_type
            );
            return Err(spec.error_at(&field, why, "remove the entry, or name a numeric non-key column").into());
        }
    }
    Ok(columns)
}
