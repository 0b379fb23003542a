//! Table discovery by listing: `schema/table/key=value/.../*.parquet`.
//!
//! A `key=__HIVE_DEFAULT_PARTITION__` folder is Hive's folder for rows whose partition
//! value is NULL: it does not decide the column's type, and its rows read as NULL.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use super::{Warehouse, WarehouseError};
use crate::spec::ident::check_column;
use crate::spec::TableName;

/// One Parquet file of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Object path from the warehouse root, e.g. `finance/daily_revenue/revenue_date=2025-01-01/part-0.parquet`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// The store's entity tag, when it gives one.
    pub e_tag: Option<String>,
    /// The store's object version, when versioning is on.
    pub version: Option<String>,
    /// `(column, raw value)` from the `k=v` folders, outermost first.
    pub partition: Vec<(String, String)>,
}

/// The folder value Hive writes for a NULL partition value: `key=__HIVE_DEFAULT_PARTITION__`.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

impl DataFile {
    /// The raw value of partition column `column` for this file, if it has one
    /// ([`HIVE_DEFAULT_PARTITION`] for a NULL value).
    pub fn partition_value(&self, column: &str) -> Option<&str> {
        self.partition.iter().find(|(k, _)| k == column).map(|(_, v)| v.as_str())
    }

    /// True when this file lies in `column`'s NULL folder, `column=__HIVE_DEFAULT_PARTITION__`.
    pub fn in_null_partition(&self, column: &str) -> bool {
        self.partition_value(column) == Some(HIVE_DEFAULT_PARTITION)
    }
}

/// The type a partition column gets from its folder names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionType {
    /// Every value parses as `YYYY-MM-DD` (DESIGN.md, warehouse layout), apart from
    /// [`HIVE_DEFAULT_PARTITION`] folders, whose rows are NULL.
    Date,
    /// Anything else.
    Utf8,
}

/// A partition column found in folder names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionColumn {
    /// Column name (the `k` of `k=v`).
    pub name: String,
    /// Its type.
    pub data_type: PartitionType,
}

/// What listing one table found.
#[derive(Debug, Clone)]
pub struct TableListing {
    /// The table.
    pub table: TableName,
    /// Its Parquet files: those of NULL partitions ([`HIVE_DEFAULT_PARTITION`]) first,
    /// then the others, each group sorted by path (so the last file is the newest dated one).
    pub files: Vec<DataFile>,
    /// Partition columns in folder order.
    pub partition_columns: Vec<PartitionColumn>,
}

impl TableListing {
    /// Files whose DATE partition `column` lies in `from..=to`, in path order.
    pub fn files_between<'a>(
        &'a self,
        column: &'a str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = &'a DataFile> + 'a {
        self.files.iter().filter(move |f| {
            f.partition_value(column)
                .and_then(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
                .is_some_and(|d| d >= from && d <= to)
        })
    }

    /// The partition column called `name`, if any.
    pub fn partition_column(&self, name: &str) -> Option<&PartitionColumn> {
        self.partition_columns.iter().find(|c| c.name == name)
    }

    /// Files in `column`'s NULL folder (`column=__HIVE_DEFAULT_PARTITION__`), in path order.
    pub fn null_partition_files<'a>(&'a self, column: &'a str) -> impl Iterator<Item = &'a DataFile> + 'a {
        self.files.iter().filter(move |f| f.in_null_partition(column))
    }

    /// Partition columns with a NULL folder (`key=__HIVE_DEFAULT_PARTITION__`), in folder order.
    pub fn null_partition_columns(&self) -> Vec<&PartitionColumn> {
        self.partition_columns.iter().filter(|c| self.files.iter().any(|f| f.in_null_partition(&c.name))).collect()
    }
}

async fn child_folders(wh: &Warehouse, prefix: Option<&ObjectPath>) -> Result<Vec<String>, WarehouseError> {
    let listed = wh.store().list_with_delimiter(prefix).await.map_err(|e| wh.store_error(e))?;
    Ok(listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_string))
        .filter(|name| check_column(name).is_ok())
        .collect())
}

pub(super) async fn tables(wh: &Warehouse) -> Result<Vec<TableName>, WarehouseError> {
    let mut out = Vec::new();
    for schema in child_folders(wh, None).await? {
        let prefix = ObjectPath::from(schema.as_str());
        for table in child_folders(wh, Some(&prefix)).await? {
            out.push(TableName::new(&schema, &table));
        }
    }
    out.sort();
    Ok(out)
}

pub(super) async fn has_table(wh: &Warehouse, table: &TableName) -> Result<bool, WarehouseError> {
    let prefix = ObjectPath::from(table.schema.as_str());
    Ok(child_folders(wh, Some(&prefix)).await?.contains(&table.table))
}

pub(super) async fn list_table(wh: &Warehouse, table: &TableName) -> Result<TableListing, WarehouseError> {
    let prefix = ObjectPath::from(format!("{}/{}", table.schema, table.table));
    let metas: Vec<_> = wh.store().list(Some(&prefix)).try_collect().await.map_err(|e| wh.store_error(e))?;
    let skip = prefix.parts().count();
    let mut files = Vec::new();
    let mut values: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for meta in metas {
        let parts: Vec<String> = meta.location.parts().skip(skip).map(|p| p.as_ref().to_string()).collect();
        let Some((name, folders)) = parts.split_last() else { continue };
        let hidden = |s: &str| s.starts_with('_') || s.starts_with('.');
        if !name.ends_with(".parquet") || hidden(name) || folders.iter().any(|f| hidden(f)) {
            continue;
        }
        let partition: Vec<(String, String)> =
            folders.iter().filter_map(|f| f.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))).collect();
        for (depth, (k, v)) in partition.iter().enumerate() {
            let is_date = v == HIVE_DEFAULT_PARTITION || NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok();
            let entry = values.entry(k.clone()).or_insert((depth, true));
            entry.1 &= is_date;
        }
        files.push(DataFile {
            path: meta.location.to_string(),
            size: meta.size,
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
            partition,
        });
    }
    let dated = |f: &DataFile| !f.partition.iter().any(|(_, v)| v == HIVE_DEFAULT_PARTITION);
    files.sort_by(|a, b| (dated(a), &a.path).cmp(&(dated(b), &b.path)));
    let mut partition_columns: Vec<(usize, PartitionColumn)> = values
        .into_iter()
        .map(|(name, (depth, is_date))| {
            let data_type = if is_date { PartitionType::Date } else { PartitionType::Utf8 };
            (depth, PartitionColumn { name, data_type })
        })
        .collect();
    partition_columns.sort_by_key(|(d, _)| *d);
    Ok(TableListing {
        table: table.clone(),
        files,
        partition_columns: partition_columns.into_iter().map(|(_, c)| c).collect(),
    })
}
