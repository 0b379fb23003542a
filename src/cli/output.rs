//! Query results on stdout: an aligned table (drawn by [`backfill::layout::columns`], as
//! every table the CLI prints), CSV with a header row, or JSON.

use datafusion::arrow::record_batch::RecordBatch;

use backfill::Error;

/// How `query` and `releases` print rows.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Format `batches` (all one schema).
pub fn format_batches(batches: &[RecordBatch], format: Format) -> Result<String, Error> {
    let arrow = |e: datafusion::arrow::error::ArrowError| backfill::error::engine(e.into());
    match format {
        Format::Table => {
            let table = backfill::reconcile::Table::from_batches(batches).map_err(arrow)?;
            Ok(if table.columns.is_empty() { "no rows\n".to_string() } else { table.to_text(0) })
        }
        Format::Csv => {
            let mut out = Vec::new();
            {
                let mut w = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
                for b in batches {
                    w.write(b).map_err(arrow)?;
                }
            }
            Ok(String::from_utf8_lossy(&out).into_owned())
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b).map_err(arrow)?;
            }
            w.finish().map_err(arrow)?;
            let mut text = String::from_utf8_lossy(&w.into_inner()).into_owned();
            if text.is_empty() {
                text.push_str("[]");
            }
            Ok(text + "\n")
        }
    }
}
