//! Stage 2: the plan. Checks a [`Spec`] against the warehouse (the base table, its
//! partition key and columns, the transform's source tables) and fixes the scope:
//! the partitions to recompute, their batches, estimated rows and bytes per batch
//! from Parquet footers, and the downstream dependents. Reads only; writes nothing.

mod downstream;
mod estimate;
pub mod transform;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use serde::Serialize;

pub use downstream::{Dependent, DependentKind};
pub use estimate::Estimate;

use crate::catalog::{self, CatalogVersion};
use crate::plan::transform::{parse_query, relations, TransformTemplate};
use crate::spec::{Spec, TableName};
use crate::sql::sql_type;
use crate::warehouse::{read_footer, PartitionType, TableListing, Warehouse};
use crate::Error;

/// A column of the base table, in table order (data columns, then the partition key).
#[derive(Debug, Clone, Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Arrow type, as read from the Parquet footer (or DATE for the partition key).
    #[serde(skip)]
    pub data_type: DataType,
    /// DataFusion SQL type used in casts and the shadow DDL, e.g. `DECIMAL(18, 2)`.
    pub sql_type: String,
    /// True for the partition key, which lives in folder names.
    pub is_partition: bool,
}

/// One batch: consecutive partitions processed, checkpointed and reconciled together.
#[derive(Debug, Clone, Serialize)]
pub struct Batch {
    /// 1-based batch number; names `batches/NNNN.json`.
    pub number: u32,
    /// Its partitions, ascending, at least one.
    pub partitions: Vec<NaiveDate>,
    /// Estimated work from source footers.
    pub estimate: Estimate,
}

impl Batch {
    /// First partition.
    pub fn start(&self) -> NaiveDate {
        self.partitions[0]
    }
    /// Last partition.
    pub fn end(&self) -> NaiveDate {
        self.partitions[self.partitions.len() - 1]
    }
}

/// A table the transform reads.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// `schema.table`.
    pub table: TableName,
    /// The DATE partition column used to estimate per batch, if the table has one;
    /// without one every batch is estimated to read the whole table.
    pub partition_column: Option<String>,
}

/// The consumer view as the catalog has it now.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumerView {
    /// Whether the catalog already defines it; if not, the plan's first step creates it.
    pub exists: bool,
    /// Its current body, or `SELECT * FROM <base>` when it does not exist yet.
    pub body: String,
}

/// A checked, scoped backfill: everything the renderer needs.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The spec this plan was built from.
    pub spec: Spec,
    /// Base table columns in table order.
    pub columns: Vec<Column>,
    /// Partitions to recompute, ascending (range minus exclusions).
    pub partitions: Vec<NaiveDate>,
    /// Batches in execution order.
    pub batches: Vec<Batch>,
    /// Tables the transform reads.
    pub sources: Vec<Source>,
    /// Catalog views that read the base table (directly or through other views) and
    /// declared dependents.
    pub downstream: Vec<Dependent>,
    /// Partitions to recompute for which no date-partitioned source has files (empty
    /// when a source is not date-partitioned: then nothing can be said per partition).
    pub without_source: Vec<NaiveDate>,
    /// The consumer view's current state.
    pub view: ConsumerView,
    /// The catalog version read (0 when there is none).
    pub catalog_version: u64,
    /// Bytes of the base table's files in the partitions to recompute (from the listing).
    #[serde(skip)]
    pub base_bytes: u64,
}

impl Plan {
    /// Total estimate over every batch.
    pub fn estimate(&self) -> Estimate {
        self.batches.iter().fold(Estimate::default(), |acc, b| acc.plus(&b.estimate))
    }

    /// Check `spec` against `wh` and build the plan.
    ///
    /// Errors: [`Error::Spec`] (exit 2) for a missing table, partition key, key or
    /// source table, each listing what exists; store and catalog failures otherwise.
    pub async fn build(spec: Spec, wh: &Warehouse) -> Result<Self, Error> {
        let tables = wh.tables().await?;
        let catalog = catalog::latest(wh).await?;
        let listing = base_listing(&spec, wh, &tables).await?;
        let columns = base_columns(&spec, wh, &listing).await?;

        let partitions = spec.source_range.partitions();
        let per = spec.execution.partitions_per_batch as usize;
        let template = TransformTemplate::compile(&spec)?;
        let first_sql = template.render(&spec, &partitions[..per.min(partitions.len())])?;
        let query = parse_query(&spec, &first_sql)?;
        let sources = resolve_sources(&spec, wh, &tables, &catalog, &relations(&query)).await?;

        let estimator = estimate::Estimator::load(wh, &spec, &sources, &listing).await?;
        let key = &spec.target.partition_key;
        let in_range: std::collections::BTreeSet<String> = partitions.iter().map(ToString::to_string).collect();
        let base_bytes = listing
            .files
            .iter()
            .filter(|f| f.partition_value(key).is_some_and(|v| in_range.contains(v)))
            .map(|f| f.size)
            .sum();
        let without_source = estimator.without_files(&partitions);
        let batches = partitions
            .chunks(per)
            .enumerate()
            .map(|(i, chunk)| Batch {
                number: i as u32 + 1,
                partitions: chunk.to_vec(),
                estimate: estimator.between(chunk[0], chunk[chunk.len() - 1]),
            })
            .collect();

        let view_name = spec.target.view.to_string();
        if tables.contains(&spec.target.view) {
            return Err(spec
                .error_at(
                    "target.view",
                    format!("`{view_name}` is a table in the warehouse, not a view"),
                    "name a view that readers query, e.g. <table>_current",
                )
                .into());
        }
        let view = match catalog.views.get(&view_name) {
            Some(v) => ConsumerView { exists: true, body: v.sql.trim().to_string() },
            None => ConsumerView {
                exists: false,
                body: format!("SELECT * FROM {}", crate::sql::quote_table(&spec.target.table.to_string())),
            },
        };
        let downstream = downstream::find(&spec, &catalog);
        Ok(Self {
            spec,
            columns,
            partitions,
            batches,
            sources,
            downstream,
            without_source,
            view,
            catalog_version: catalog.version,
            base_bytes,
        })
    }
}

fn table_list(tables: &[TableName]) -> String {
    if tables.is_empty() {
        "the warehouse has no tables".into()
    } else {
        format!("tables in the warehouse: {}", tables.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
    }
}

async fn base_listing(spec: &Spec, wh: &Warehouse, tables: &[TableName]) -> Result<TableListing, Error> {
    let base = &spec.target.table;
    if !tables.contains(base) {
        return Err(spec
            .error_at(
                "target.table",
                format!("table `{base}` does not exist in warehouse {}; {}", wh.location(), table_list(tables)),
                "name an existing table, or point --warehouse at the right warehouse",
            )
            .into());
    }
    let listing = wh.list_table(base).await?;
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

async fn base_columns(spec: &Spec, wh: &Warehouse, listing: &TableListing) -> Result<Vec<Column>, Error> {
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

async fn resolve_sources(
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
