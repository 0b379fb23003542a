//! The spec exactly as written: serde structs that mirror the YAML, with unknown
//! fields rejected. Nothing here is checked beyond YAML types; `super::validate`
//! turns a [`RawSpec`] into a checked [`super::Spec`].

use serde::Deserialize;

/// The top level of a spec file (`specs/*.yaml`), field for field as in DESIGN.md.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpec {
    pub backfill_id: String,
    pub owner: String,
    pub reason: RawReason,
    #[serde(default)]
    pub warehouse: Option<String>,
    #[serde(default)]
    pub dialect: Option<String>,
    pub target: RawTarget,
    pub source_range: RawRange,
    pub transform: RawTransform,
    #[serde(default)]
    pub downstream: Vec<String>,
    #[serde(default)]
    pub execution: RawExecution,
    #[serde(default)]
    pub validation: RawValidation,
    #[serde(default)]
    pub rollback: Option<RawRollback>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReason {
    pub issue: String,
    pub change: String,
    pub kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub table: String,
    pub partition_key: String,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub view: Option<String>,
    #[serde(default)]
    pub shadow: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRange {
    pub start: String,
    pub end: String,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransform {
    #[serde(default)]
    pub sql: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub dialects: std::collections::BTreeMap<String, RawDialectTransform>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDialectTransform {
    pub sql: String,
}

/// A count or a text such as `"0.5%"` / `"10GiB"`; YAML gives either.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum NumberOrText {
    Number(u64),
    Text(String),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawExecution {
    pub partitions_per_batch: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub max_partitions: Option<u32>,
    pub max_bytes_scanned: Option<NumberOrText>,
    pub pause_between_batches: Option<String>,
    pub query_timeout: Option<String>,
    pub live_pipeline_marker: Option<String>,
    pub live_pipeline_max_wait: Option<String>,
    pub engine: Option<super::EngineKind>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawValidation {
    pub row_count_tolerance: Option<NumberOrText>,
    pub unique_keys: Option<bool>,
    #[serde(default)]
    pub not_null: Vec<String>,
    #[serde(default)]
    pub metrics: Vec<RawMetric>,
    pub sample_rows: Option<u32>,
    #[serde(default)]
    pub value_tolerance: std::collections::BTreeMap<String, RawAmount>,
}

/// A tolerance amount as YAML gives it: a number or a quoted decimal.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawAmount {
    Number(f64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMetric {
    pub name: String,
    pub sql: String,
    #[serde(default)]
    pub expected_delta: Option<String>,
    #[serde(default)]
    pub batch_expected_delta: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRollback {
    #[serde(default)]
    pub snapshot: Option<String>,
    #[serde(default)]
    pub retention_days: Option<u32>,
}
