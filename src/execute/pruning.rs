//! Partition pruning for tables with one partition column, evaluated once per scan.
//!
//! DataFusion 55's `ListingTable` prunes a range filter such as
//! `ship_date BETWEEN a AND b` by building and evaluating the filter once per file of
//! the whole table: about 25 ms per statement over TPC-H's 2,526 daily partitions, paid by
//! every batch's write. An equality on the partition column instead becomes a listing
//! prefix and costs about 1 ms. [`PartitionPruned`] wraps a listing table: it evaluates
//! the scan's partition filters once, over the values of every partition folder as one
//! array, and scans each matching partition with an equality filter, the scans joined by
//! a union. The rows are exactly those the wrapped table would return.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::{Column, DFSchema, Result, ScalarValue};
use datafusion::datasource::listing::helpers::expr_applicable_for_cols;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::cache::TableScopedPath;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{lit, Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use object_store::ObjectMeta;

/// Above this many matching partitions the wrapped table prunes by itself: one union
/// input per partition would cost more than its per-file filter.
pub const MAX_SPLIT: usize = 64;

/// A listing of the table and the partition values taken from it (computed once per listing).
type Memo = (Arc<Vec<ObjectMeta>>, Option<Arc<Vec<String>>>);

/// A listing table with one partition column whose partition filters are evaluated once
/// per scan (see the module documentation).
#[derive(Debug)]
pub struct PartitionPruned {
    inner: Arc<ListingTable>,
    /// The partition column's name and type.
    key: (String, DataType),
    /// The cached listing partition values were last computed from, and those values.
    memo: Mutex<Option<Memo>>,
}

impl PartitionPruned {
    /// Wrap `inner`, whose files live in `key=value` folders.
    pub fn new(inner: Arc<ListingTable>, key: (String, DataType)) -> Self {
        Self { inner, key, memo: Mutex::new(None) }
    }

    /// The wrapped listing table.
    pub fn inner(&self) -> &Arc<ListingTable> {
        &self.inner
    }

    /// The partition column's name and type.
    pub fn key(&self) -> &(String, DataType) {
        &self.key
    }

    /// The raw values of every `key=value` folder holding a Parquet file, from the same
    /// cached listing the wrapped table scans (computed once per cached listing); `None`
    /// when a value is percent-encoded (then the wrapped table, which decodes, prunes by
    /// itself).
    async fn partition_values(&self, state: &dyn Session) -> Result<Option<Arc<Vec<String>>>> {
        let Some(url) = self.inner.table_paths().first() else { return Ok(None) };
        let depth = url.prefix().parts().count();
        let cache = state.runtime_env().cache_manager.get_list_files_cache();
        let key = TableScopedPath { table: url.get_table_ref().clone(), path: url.prefix().clone() };
        if let Some(listing) = cache.as_ref().and_then(|c| c.get(&key)) {
            let mut memo = self.memo.lock().expect("memo lock");
            if let Some((_, values)) = memo.as_ref().filter(|(files, _)| Arc::ptr_eq(files, &listing.files)) {
                return Ok(values.clone());
            }
            let values = self.values_in(&listing.files, depth);
            *memo = Some((Arc::clone(&listing.files), values.clone()));
            return Ok(values);
        }
        let store = state.runtime_env().object_store(url.object_store())?;
        let files: Vec<ObjectMeta> =
            url.list_prefixed_files(state, store.as_ref(), None, ".parquet").await?.try_collect().await?;
        Ok(self.values_in(&files, depth))
    }

    /// The partition values of `files` (see [`Self::partition_values`]).
    fn values_in(&self, files: &[ObjectMeta], depth: usize) -> Option<Arc<Vec<String>>> {
        let wanted = format!("{}=", self.key.0);
        let mut values = BTreeSet::new();
        for file in files.iter().filter(|f| f.location.extension() == Some("parquet")) {
            let Some(folder) = file.location.parts().nth(depth) else { continue };
            let Some(value) = folder.as_ref().strip_prefix(&wanted) else { continue };
            if value.contains('%') {
                return None;
            }
            if !values.contains(value) {
                values.insert(value.to_string());
            }
        }
        Some(Arc::new(values.into_iter().collect()))
    }

    /// The values among `values` for which every filter holds, evaluated as one array.
    fn matching(&self, values: &[String], filters: &[Expr], state: &dyn Session) -> Result<Vec<ScalarValue>> {
        let (name, data_type) = &self.key;
        let schema = Arc::new(Schema::new(vec![Field::new(name, data_type.clone(), true)]));
        let raw: ArrayRef = Arc::new(StringArray::from_iter_values(values));
        let typed = cast(&raw, data_type)?;
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::clone(&typed)])?;
        let filter = conjunction(filters.iter().cloned()).unwrap_or_else(|| lit(true));
        let physical = state.create_physical_expr(filter, &DFSchema::try_from(schema)?)?;
        let mask = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
        let mask = mask
            .as_any()
            .downcast_ref::<BooleanArray>()
            .cloned()
            .unwrap_or_else(|| BooleanArray::from(vec![false; batch.num_rows()]));
        (0..typed.len())
            .filter(|&i| mask.is_valid(i) && mask.value(i) && typed.is_valid(i))
            .map(|i| ScalarValue::try_from_array(&typed, i))
            .collect()
    }
}

#[async_trait]
impl TableProvider for PartitionPruned {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let key = [self.key.0.as_str()];
        let (partition, other): (Vec<Expr>, Vec<Expr>) =
            filters.iter().cloned().partition(|f| expr_applicable_for_cols(&key, f));
        if partition.is_empty() {
            return self.inner.scan(state, projection, filters, limit).await;
        }
        let Some(values) = self.partition_values(state).await? else {
            return self.inner.scan(state, projection, filters, limit).await;
        };
        let matching = self.matching(&values, &partition, state)?;
        if matching.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema().project(p)?),
                None => self.schema(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        if matching.len() > MAX_SPLIT {
            return self.inner.scan(state, projection, filters, limit).await;
        }
        let mut scans = Vec::with_capacity(matching.len());
        for value in matching {
            let mut one = vec![Expr::Column(Column::new_unqualified(self.key.0.as_str())).eq(lit(value))];
            one.extend(other.iter().cloned());
            scans.push(self.inner.scan(state, projection, &one, limit).await?);
        }
        UnionExec::try_new(scans)
    }
}
