//! Query results as text cells, for reports and samples.

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Serialize};

/// A small result set with every cell formatted as text (NULL as `NULL`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells, one per column.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Format `batches` (all with the same schema).
    ///
    /// Errors: a cell Arrow cannot format.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self, datafusion::arrow::error::ArrowError> {
        let mut table = Table::default();
        let options = FormatOptions::default().with_null("NULL");
        for batch in batches {
            if table.columns.is_empty() {
                table.columns = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
            }
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()?;
            for row in 0..batch.num_rows() {
                table.rows.push(formatters.iter().map(|f| f.value(row).to_string()).collect());
            }
        }
        Ok(table)
    }

    /// The rows whose first cell is `class`, without that first column (splits the
    /// `row_class` column of `reconcile_samples`). Columns are kept even with no rows.
    pub fn rows_of_class(&self, class: &str) -> Table {
        Table {
            columns: self.columns.iter().skip(1).cloned().collect(),
            rows: self.rows.iter().filter(|r| r.first().is_some_and(|c| c == class)).map(|r| r[1..].to_vec()).collect(),
        }
    }

    /// Aligned plain-text rendering, one line per row under a header line, indented by
    /// `indent` spaces ([`crate::layout::columns`]).
    pub fn to_text(&self, indent: usize) -> String {
        crate::layout::columns(&self.columns, &self.rows, &" ".repeat(indent))
    }
}
