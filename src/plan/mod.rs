//! Stage 2: the plan. Checks a [`Spec`] against the warehouse (the base table, its
//! partition key and columns, the transform's source tables) and fixes the scope:
//! the partitions to recompute, their batches, estimated rows and bytes per batch
//! from Parquet footers, and the downstream dependents. Reads only; writes nothing.

mod base;
mod downstream;
mod estimate;
mod sources;
pub mod transform;

use chrono::NaiveDate;
use datafusion::arrow::datatypes::DataType;
use serde::Serialize;

pub use downstream::{Dependent, DependentKind};
pub use estimate::Estimate;

use crate::catalog;
use crate::plan::transform::{parse_query, relations, TransformTemplate};
use crate::spec::{Spec, TableName};
use crate::warehouse::Warehouse;
use crate::Error;

use base::{base_columns, base_listing};
use sources::resolve_sources;

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

    /// Check `spec` against `wh` and build the plan. Lists only the tables the spec
    /// names (the base, the transform's sources; the consumer view's folder name is
    /// looked up) and reads the footers of the sources' files in the source range.
    ///
    /// Errors: [`Error::Spec`] (exit 2) for a missing table, partition key, key or
    /// source table, each listing what exists; store and catalog failures otherwise.
    pub async fn build(spec: Spec, wh: &Warehouse) -> Result<Self, Error> {
        let catalog = catalog::latest(wh).await?;
        let partitions = spec.source_range.partitions();
        let per = spec.execution.partitions_per_batch as usize;
        // The relations the transform reads (no I/O), so that its tables are listed while
        // the base is; its errors are reported after the base table's, as they always were.
        let names = (|| -> Result<Vec<String>, Error> {
            let template = TransformTemplate::compile(&spec)?;
            let first_sql = template.render(&spec, &partitions[..per.min(partitions.len())])?;
            Ok(relations(&parse_query(&spec, &first_sql)?))
        })();
        let early = sources::tables_to_list(&spec, &catalog, names.as_deref().unwrap_or_default());
        let (listing, listed) = futures::join!(base_listing(&spec, wh), sources::list_all(wh, early));
        let listing = listing?;
        let columns = base_columns(&spec, wh, &listing).await?;
        let resolved = resolve_sources(&spec, wh, &catalog, &names?, &listing, listed).await?;

        let estimator = estimate::Estimator::load(wh, &spec, &resolved, &listing).await?;
        let sources: Vec<Source> = resolved.into_iter().map(|r| r.source).collect();
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
        if wh.has_table(&spec.target.view).await? {
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

/// The warehouse's tables, listed for an error message (table folders, no files).
///
/// Errors: store failures listing the folders.
async fn table_list(wh: &Warehouse) -> Result<String, Error> {
    let tables = wh.tables().await?;
    Ok(if tables.is_empty() {
        "the warehouse has no tables".into()
    } else {
        format!("tables in the warehouse: {}", tables.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
    })
}
