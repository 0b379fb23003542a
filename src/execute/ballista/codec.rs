//! [`BackfillCodec`]: Ballista's logical codec plus our [`PartitionPruned`] table
//! provider, so that a plan scanning one crosses from the client to the scheduler.

use std::sync::Arc;

use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use serde::{Deserialize, Serialize};

use crate::execute::pruning::PartitionPruned;

/// What marks our encoding of a table provider (Ballista's own encodings never start so).
const MAGIC: &[u8] = b"backfill-partition-pruned:";

/// A [`PartitionPruned`] listing table as it travels: JSON after [`MAGIC`]. The full
/// schema travels beside it (the codec is given it), so only what rebuilds the listing
/// is here.
#[derive(Debug, Serialize, Deserialize)]
struct Encoded {
    /// The table's URL, `bf://warehouse/<schema>/<table>/`.
    url: String,
    /// Partition columns in folder order, each with `true` for DATE (else text).
    partition_columns: Vec<(String, bool)>,
    /// The pruned column (one of the above).
    key: String,
}

/// Ballista's logical codec (file formats, its cache node) with [`PartitionPruned`]
/// encoded and decoded by us. Errors: a provider that is neither ours nor Ballista's.
#[derive(Debug, Default)]
pub struct BackfillCodec {
    inner: BallistaLogicalExtensionCodec,
}

fn date_or_text(date: bool) -> DataType {
    if date {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

impl LogicalExtensionCodec for BackfillCodec {
    fn try_decode(&self, buf: &[u8], inputs: &[LogicalPlan], ctx: &TaskContext) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let Some(json) = buf.strip_prefix(MAGIC) else {
            return self.inner.try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let e: Encoded = serde_json::from_slice(json).map_err(|e| DataFusionError::Internal(e.to_string()))?;
        let partitions: Vec<(String, DataType)> =
            e.partition_columns.iter().map(|(name, date)| (name.clone(), date_or_text(*date))).collect();
        let key =
            partitions.iter().find(|(name, _)| *name == e.key).cloned().ok_or_else(|| {
                DataFusionError::Internal(format!("{table_ref}: key {} is no partition column", e.key))
            })?;
        let file_fields = schema.fields().iter().filter(|f| !partitions.iter().any(|(n, _)| n == f.name()));
        let file_schema = Arc::new(Schema::new(file_fields.cloned().collect::<Vec<_>>()));
        let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
            .with_file_extension(".parquet")
            .with_table_partition_cols(partitions);
        let config = ListingTableConfig::new(ListingTableUrl::parse(&e.url)?)
            .with_listing_options(options)
            .with_schema(file_schema);
        Ok(Arc::new(PartitionPruned::new(Arc::new(ListingTable::try_new(config)?), key)))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(pruned) = node.downcast_ref::<PartitionPruned>() else {
            return self.inner.try_encode_table_provider(table_ref, node, buf);
        };
        let table = pruned.inner();
        let url = table
            .table_paths()
            .first()
            .ok_or_else(|| DataFusionError::Internal(format!("{table_ref}: a listing table without a path")))?;
        let encoded = Encoded {
            url: url.as_str().to_string(),
            partition_columns: table
                .options()
                .table_partition_cols
                .iter()
                .map(|(name, t)| (name.clone(), *t == DataType::Date32))
                .collect(),
            key: pruned.key().0.clone(),
        };
        buf.extend_from_slice(MAGIC);
        serde_json::to_writer(buf, &encoded).map_err(|e| DataFusionError::Internal(e.to_string()))
    }

    fn try_decode_file_format(&self, buf: &[u8], ctx: &TaskContext) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(&self, buf: &mut Vec<u8>, node: Arc<dyn FileFormatFactory>) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}
