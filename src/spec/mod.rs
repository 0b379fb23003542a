//! Stage 1: the spec. Reads a backfill spec (YAML), rejects unknown fields, checks every
//! rule of DESIGN.md's spec section, and yields a [`Spec`] whose values are typed
//! (dates, identifiers, durations, byte sizes). Nothing is read from the warehouse here.
//! [`SpecIdentity`] reads only a backfill's id, consumer view and warehouse, leniently,
//! for `rollback`, which must work whatever became of the rest of the spec.

mod engine;
mod error;
pub mod ident;
mod identity;
mod locate;
mod raw;
mod transform;
pub mod units;
mod validate;
mod yaml;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use serde::Serialize;

pub use crate::sql::Dialect;
pub use engine::EngineKind;
pub use error::SpecError;
pub use ident::TableName;
pub use identity::SpecIdentity;
pub use locate::{Location, PathIndex};
pub use transform::{Transform, TransformOrigin, TransformText};
pub use units::{DeltaRange, Tolerance};

/// Default for `execution.max_partitions`: plans above it are refused.
pub const DEFAULT_MAX_PARTITIONS: u32 = 1000;

impl std::fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReasonKind::Recompute => "recompute",
            ReasonKind::Reinterpretation => "reinterpretation",
        })
    }
}

/// A checked backfill spec. Serializes to its normalized form (the input of the plan
/// fingerprint): defaults filled in, the transform's text resolved, no file paths.
#[derive(Debug, Clone, Serialize)]
pub struct Spec {
    /// `[a-z0-9][a-z0-9_-]{0,62}`; names `_backfills/<backfill_id>/`.
    pub backfill_id: String,
    /// The team or person answerable for the backfill.
    pub owner: String,
    /// Why history is being changed.
    pub reason: Reason,
    /// The table being corrected and where the correction goes.
    pub target: Target,
    /// Which partitions are recomputed.
    pub source_range: SourceRange,
    /// `dialect:` — the dialect `plan` renders by default and the one `transform.sql` is
    /// written in (default `datafusion`). Left out of the normalized form when default.
    #[serde(skip_serializing_if = "is_datafusion")]
    pub dialect: Dialect,
    /// The SQL template that computes corrected rows.
    pub transform: Transform,
    /// Declared dependents (`dashboard:finance-revenue`), in spec order.
    pub downstream: Vec<String>,
    /// Batching and throttling.
    pub execution: Execution,
    /// Reconciliation gates.
    pub validation: Validation,
    /// Snapshot tag and retention.
    pub rollback: Rollback,
    /// Where the spec was read from, for error messages. Not part of the fingerprint.
    #[serde(skip)]
    pub source: SpecSource,
}

fn is_datafusion(d: &Dialect) -> bool {
    *d == Dialect::DataFusion
}

/// Where a spec came from, kept to locate later errors (a missing table found when the
/// warehouse is opened) at the spec's line and column.
#[derive(Debug, Clone, Default)]
pub struct SpecSource {
    /// The spec file as given on the command line.
    pub file: PathBuf,
    /// Field positions in that file.
    pub index: PathIndex,
    /// The `warehouse:` value resolved against the spec's folder, if the spec has one.
    pub warehouse: Option<String>,
}

/// `reason:` — the ticket, the change and its kind.
#[derive(Debug, Clone, Serialize)]
pub struct Reason {
    /// Ticket id, e.g. `FIN-2841`.
    pub issue: String,
    /// One line describing the change.
    pub change: String,
    /// `recompute` (same definition, fixed code) or `reinterpretation` (a new definition).
    pub kind: ReasonKind,
}

/// Whether history is recomputed under the same definition or reinterpreted.
/// Publishing a reinterpretation needs `--allow-reinterpretation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// Same metric definition, corrected computation.
    Recompute,
    /// The metric's meaning changes.
    Reinterpretation,
}

/// `target:` — base table, partition key, grain, consumer view and shadow table.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The base table (`finance.daily_revenue`).
    pub table: TableName,
    /// The DATE partition column.
    pub partition_key: String,
    /// The grain inside a partition; with the partition key, a row's identity.
    pub keys: Vec<String>,
    /// The consumer view; default `<table>_current`.
    pub view: TableName,
    /// The shadow table; default `<table>__<backfill_id with - as _>`.
    pub shadow: TableName,
}

/// `source_range:` — inclusive dates, minus exclusions.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRange {
    /// First partition, inclusive.
    pub start: NaiveDate,
    /// Last partition, inclusive.
    pub end: NaiveDate,
    /// Partitions inside the range left as they are.
    pub exclude: BTreeSet<NaiveDate>,
}

impl SourceRange {
    /// The partitions to recompute: every day from start to end, minus exclusions, in order.
    pub fn partitions(&self) -> Vec<NaiveDate> {
        self.start.iter_days().take_while(|d| *d <= self.end).filter(|d| !self.exclude.contains(d)).collect()
    }

    /// Number of partitions [`Self::partitions`] yields, without building the list.
    pub fn partition_count(&self) -> i64 {
        (self.end - self.start).num_days() + 1 - self.exclude.len() as i64
    }
}

/// `execution:` — batching and throttling, defaults filled in.
#[derive(Debug, Clone, Serialize)]
pub struct Execution {
    /// Consecutive partitions per batch (≥ 1; default 7).
    pub partitions_per_batch: u32,
    /// Batches in flight at once (≥ 1; default 1).
    pub max_concurrency: u32,
    /// Plans with more partitions are refused (default 1000).
    pub max_partitions: u32,
    /// Byte budget for scans, if any.
    pub max_bytes_scanned: Option<u64>,
    /// Wait between batches (default 0s).
    #[serde(with = "humantime_serde_compat")]
    pub pause_between_batches: Duration,
    /// Per-statement limit (default 10m).
    #[serde(with = "humantime_serde_compat")]
    pub query_timeout: Duration,
    /// Object path under the warehouse; while it exists, batches wait.
    pub live_pipeline_marker: Option<String>,
    /// How long a batch waits for the marker to go before the run stops, resumable
    /// (exit 3; default 6h).
    #[serde(with = "humantime_serde_compat")]
    pub live_pipeline_max_wait: Duration,
    /// The engine (default `datafusion`). Not part of the spec's fingerprint: either
    /// engine gives the same shadow, so a run may be resumed on the other.
    #[serde(skip)]
    pub engine: EngineKind,
}

/// `validation:` — the gates.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// Allowed row-count movement per partition (default 0 rows).
    pub row_count_tolerance: Tolerance,
    /// (partition key, keys) must be unique in the shadow (default true).
    pub unique_keys: bool,
    /// Columns that must hold no NULLs in the shadow.
    pub not_null: Vec<String>,
    /// Aggregate metrics compared old vs new.
    pub metrics: Vec<Metric>,
    /// Changed rows shown per report (default 20).
    pub sample_rows: u32,
    /// How far a value may move and its row still count as unchanged, per column, as
    /// plain decimal text: for a decimal or integer column an amount in the column's
    /// units, compared exactly (`net_revenue: 0.01`); for a float column a relative
    /// tolerance (`avg_arr_delay: 1e-6`). Unlisted decimal and integer columns must be
    /// equal; unlisted float columns get [`DEFAULT_FLOAT_TOLERANCE`].
    pub value_tolerance: std::collections::BTreeMap<String, String>,
}

/// The relative tolerance of a float column without a `value_tolerance` entry: values
/// within one part in a billion count as equal (float sums depend on the order rows are
/// added in; nothing a reviewer reads moves at that size).
pub const DEFAULT_FLOAT_TOLERANCE: &str = "0.000000001";

/// One aggregate compared between base and shadow.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// A plain identifier naming the metric.
    pub name: String,
    /// An aggregate SQL expression, e.g. `sum(net_revenue)`.
    pub sql: String,
    /// The accepted change over the whole range, if any: checked once every batch is
    /// done, on one query over all base and all shadow rows in range (DESIGN.md, numbers).
    pub expected_delta: Option<DeltaRange>,
    /// The accepted change of each batch on its own, if any: an early stop for a
    /// correction whose effect is the same everywhere. Optional and separate.
    pub batch_expected_delta: Option<DeltaRange>,
}

/// `rollback:` — the tag on the pre-release catalog version.
#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    /// Tag name; default `<table>_pre_<backfill_id with - as _>`.
    pub snapshot: String,
    /// Days the shadow is kept after publishing (default 30).
    pub retention_days: u32,
}

/// The text of the spec file at `path`.
///
/// Errors: a [`SpecError`] without a position when the file cannot be read.
pub(crate) fn read_text(path: &Path) -> Result<String, SpecError> {
    std::fs::read_to_string(path).map_err(|e| SpecError {
        file: path.to_path_buf(),
        position: None,
        field: String::new(),
        problem: format!("cannot read the spec: {e}"),
        fix: "check the path; specs usually live under specs/".into(),
    })
}

impl Spec {
    /// Read and check the spec at `path`.
    ///
    /// Errors: the file cannot be read, the YAML does not parse or has unknown or
    /// missing fields, or a rule of DESIGN.md's spec section is broken — each a
    /// [`SpecError`] with file, line and column.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Check spec `text` as if read from `path` (relative paths inside resolve against
    /// `path`'s folder).
    pub fn parse(text: &str, path: &Path) -> Result<Self, SpecError> {
        validate::parse(text, path)
    }

    /// An error about `field` of this spec, placed at that field's line and column.
    pub fn error_at(&self, field: &str, problem: impl Into<String>, fix: impl Into<String>) -> SpecError {
        let position = self.source.index.find(field).map(|l| (l.line, l.column));
        SpecError {
            file: self.source.file.clone(),
            position,
            field: field.to_string(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    /// Line and column in the spec file of the first character of an inline transform
    /// (for a `|` block, the first content line), if the transform is inline.
    pub fn transform_start(&self) -> Option<(usize, usize)> {
        self.field_start("transform.sql")
    }

    /// Line and column in the spec file where the value of `field` starts.
    pub fn field_start(&self, field: &str) -> Option<(usize, usize)> {
        let loc = self.source.index.find(field)?;
        Some((loc.line, loc.column))
    }
}

/// Durations serialize as humantime text ("10m") so the normalized spec reads like the YAML.
mod humantime_serde_compat {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}
