//! Reading reconciliation results by column name. The templates and this code meet at
//! column names: [`expected_columns`] lists the ones read from each statement, a run
//! checks them before its first batch, and [`Rows`] fails with
//! [`Error::MissingColumn`] (naming statement and column) instead of reading a missing
//! column as 0 — a gate fed zeros would pass.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, ArrayRef, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;

use crate::error::engine;
use crate::number::Number;
use crate::render::Step;
use crate::spec::Spec;
use crate::Error;

/// The columns backfill reads from the result of `step`, in no particular order; empty
/// for statements whose results are shown as they are (samples, largest changes).
pub fn expected_columns(spec: &Spec, step: Step) -> Vec<String> {
    let pk = spec.target.partition_key.clone();
    let metrics = spec.validation.metrics.iter();
    match step {
        Step::ReconcilePartitions => [pk, "batch_total".into(), "base_rows".into(), "shadow_rows".into()]
            .into_iter()
            .chain(metrics.flat_map(|m| [format!("base_{}", m.name), format!("shadow_{}", m.name)]))
            .chain(spec.validation.not_null.iter().map(|c| format!("{c}_nulls")))
            .collect(),
        Step::ReconcileRows => [pk, "unchanged".into(), "changed".into(), "added".into(), "removed".into()].into(),
        Step::ReconcileSamples => vec!["row_class".into()],
        Step::ReconcileRange => {
            ["side".to_string(), "row_count".into()].into_iter().chain(metrics.map(|m| m.name.clone())).collect()
        }
        Step::EstimateMetrics => {
            ["side".to_string(), "replicate".into()].into_iter().chain(metrics.map(|m| m.name.clone())).collect()
        }
        _ => Vec::new(),
    }
}

/// Check that `columns` (a statement's result columns) hold every column read from `step`.
///
/// Errors: [`Error::MissingColumn`] for the first missing one.
pub fn check_columns(spec: &Spec, step: Step, columns: &[String]) -> Result<(), Error> {
    match expected_columns(spec, step).into_iter().find(|c| !columns.contains(c)) {
        None => Ok(()),
        Some(column) => {
            Err(Error::MissingColumn { statement: step.name().to_string(), column, present: columns.join(", ") })
        }
    }
}

/// One record batch of a statement's result, read by column name.
pub struct Rows<'a> {
    step: Step,
    batch: &'a RecordBatch,
}

impl<'a> Rows<'a> {
    /// The result `batch` of statement `step`.
    pub fn new(step: Step, batch: &'a RecordBatch) -> Self {
        Self { step, batch }
    }

    /// Rows in this batch.
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.batch.num_rows() == 0
    }

    /// Column `name`.
    ///
    /// Errors: [`Error::MissingColumn`] when the result has no such column.
    pub fn column(&self, name: &str) -> Result<&'a ArrayRef, Error> {
        self.batch.column_by_name(name).ok_or_else(|| Error::MissingColumn {
            statement: self.step.name().to_string(),
            column: name.to_string(),
            present: self.batch.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// A count: an integer cell, NULL read as 0.
    ///
    /// Errors: a missing column; a column that is not an integer.
    pub fn count(&self, name: &str, row: usize) -> Result<u64, Error> {
        let col = self.column(name)?;
        if !col.data_type().is_integer() {
            return Err(self.not(name, "an integer count", col.data_type()));
        }
        let col = cast(col, &DataType::Int64).map_err(|e| engine(e.into()))?;
        let col = col.as_any().downcast_ref::<Int64Array>().expect("cast to Int64");
        Ok(if col.is_null(row) { 0 } else { col.value(row).max(0) as u64 })
    }

    /// A metric value, exact for integers and decimals ([`Number`]); `None` for NULL.
    ///
    /// Errors: a missing column; a value that is not a number (a metric must be a
    /// numeric aggregate).
    pub fn number(&self, name: &str, row: usize) -> Result<Option<Number>, Error> {
        let col = self.column(name)?;
        Number::from_array(col.as_ref(), row).map_err(|why| {
            Error::Usage(format!(
                "column `{name}` of {}: {why}\n  \
                 fix: a metric in validation.metrics must be a numeric aggregate \
                 such as sum(x), avg(x), median(x) or count(DISTINCT x)",
                self.step
            ))
        })
    }

    /// A date cell (the partition key); `None` for NULL.
    ///
    /// Errors: a missing column; a value that is not a date.
    pub fn date(&self, name: &str, row: usize) -> Result<Option<NaiveDate>, Error> {
        let col = self.column(name)?;
        if col.is_null(row) {
            return Ok(None);
        }
        let days = cast(col, &DataType::Date32).map_err(|_| self.not(name, "a date", col.data_type()))?;
        let days = days.as_any().downcast_ref::<datafusion::arrow::array::Date32Array>().expect("cast to Date32");
        days.value_as_date(row).map(Some).ok_or_else(|| self.not(name, "a date", col.data_type()))
    }

    /// A text cell; `None` for NULL.
    ///
    /// Errors: a missing column; a value that cannot be read as text.
    pub fn text(&self, name: &str, row: usize) -> Result<Option<String>, Error> {
        let col = self.column(name)?;
        if col.is_null(row) {
            return Ok(None);
        }
        let text = cast(col, &DataType::Utf8).map_err(|_| self.not(name, "text", col.data_type()))?;
        Ok(Some(
            text.as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .expect("cast to Utf8")
                .value(row)
                .to_string(),
        ))
    }

    fn not(&self, name: &str, what: &str, t: &DataType) -> Error {
        Error::Corrupt {
            path: format!("the result of {}", self.step),
            message: format!("column `{name}` is {t}, not {what}"),
        }
    }
}
