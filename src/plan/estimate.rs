//! Estimated rows and bytes per batch, from the Parquet footers of the source files a
//! batch's transform reads: a source's files whose DATE partition lies between the
//! batch's first and last partition, or all of its files if it is not date-partitioned.
//! Files in a NULL partition folder (`key=__HIVE_DEFAULT_PARTITION__`) of the base or of
//! a source lie outside every range: they are not counted, and a warning names them.

use chrono::NaiveDate;
use futures::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use super::sources::Resolved;
use crate::spec::Spec;
use crate::spec::TableName;
use crate::warehouse::{read_footer, DataFile, TableListing, Warehouse, HIVE_DEFAULT_PARTITION};
use crate::Error;

/// Footers read at once; local disks and object stores both like some parallelism.
const FOOTER_CONCURRENCY: usize = 32;

/// Estimated work: files, rows (from footers) and bytes (file sizes) read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Estimate {
    /// Source files read.
    pub files: u64,
    /// Source rows read.
    pub rows: u64,
    /// Source bytes read (compressed Parquet file sizes).
    pub bytes: u64,
}

impl Estimate {
    /// Sum of two estimates.
    pub fn plus(&self, other: &Estimate) -> Estimate {
        Estimate { files: self.files + other.files, rows: self.rows + other.rows, bytes: self.bytes + other.bytes }
    }
}

/// Log a warning when `listing` has files in `key`'s NULL folder: their rows have a
/// NULL `key`, so no source range holds them and the backfill leaves them as they are
/// (the view swap keeps such base rows visible).
fn warn_null_partitions(listing: &TableListing, key: &str) {
    let files = listing.null_partition_files(key).count();
    if files > 0 {
        let table: &TableName = &listing.table;
        tracing::warn!(
            table = %table,
            files,
            "`{table}` has {files} Parquet file(s) in {key}={HIVE_DEFAULT_PARTITION}: their rows have a NULL {key}, \
             lie outside the source range and are left as they are"
        );
    }
}

/// Per-source footer figures, sorted by partition date for range sums.
pub(super) struct Estimator {
    dated: Vec<(NaiveDate, Estimate)>,
    undated: Estimate,
    /// Some source (a view, or a table without a DATE partition) is read whole.
    any_undated: bool,
}

impl Estimator {
    /// Read the footers of every source file inside the spec's range (dated sources)
    /// or of every file (undated sources), from the sources' listings. Views contribute
    /// nothing. Warns about NULL partition folders of the base and the sources (see
    /// [`warn_null_partitions`]).
    ///
    /// Errors: footers that do not read; store failures.
    pub(super) async fn load(
        wh: &Warehouse,
        spec: &Spec,
        sources: &[Resolved],
        base: &TableListing,
    ) -> Result<Self, Error> {
        let (start, end) = (spec.source_range.start, spec.source_range.end);
        if !sources.iter().any(|s| s.source.table == spec.target.table) {
            warn_null_partitions(base, &spec.target.partition_key);
        }
        let mut dated: Vec<(NaiveDate, DataFile)> = Vec::new();
        let mut undated: Vec<DataFile> = Vec::new();
        for Resolved { source, listing } in sources {
            let Some(listing) = listing else { continue };
            match &source.partition_column {
                Some(col) => {
                    warn_null_partitions(listing, col);
                    for f in listing.files_between(col, start, end) {
                        let day = NaiveDate::parse_from_str(f.partition_value(col).unwrap_or_default(), "%Y-%m-%d")
                            .expect("filtered by files_between");
                        dated.push((day, f.clone()));
                    }
                }
                None => undated.extend(listing.files.iter().cloned()),
            }
        }
        let rows = |files: Vec<DataFile>| async move {
            stream::iter(files.into_iter().map(|f| async move {
                let stats = read_footer(wh, &f).await?;
                Ok::<_, Error>(Estimate { files: 1, rows: stats.rows, bytes: f.size })
            }))
            .buffered(FOOTER_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
        };
        let days: Vec<NaiveDate> = dated.iter().map(|(d, _)| *d).collect();
        let dated_estimates = rows(dated.into_iter().map(|(_, f)| f).collect()).await?;
        let mut dated: Vec<(NaiveDate, Estimate)> = days.into_iter().zip(dated_estimates).collect();
        dated.sort_by_key(|(d, _)| *d);
        let undated = rows(undated).await?.iter().fold(Estimate::default(), |a, e| a.plus(e));
        let any_undated = sources.iter().any(|s| s.source.partition_column.is_none());
        Ok(Self { dated, undated, any_undated })
    }

    /// The partitions of `partitions` with no dated source file; none when some source
    /// is not date-partitioned (every partition may then find rows in it).
    pub(super) fn without_files(&self, partitions: &[NaiveDate]) -> Vec<NaiveDate> {
        if self.any_undated {
            return Vec::new();
        }
        partitions.iter().copied().filter(|d| self.dated.binary_search_by_key(d, |(day, _)| *day).is_err()).collect()
    }

    /// Estimate for a batch reading `from..=to`.
    pub(super) fn between(&self, from: NaiveDate, to: NaiveDate) -> Estimate {
        let lo = self.dated.partition_point(|(d, _)| *d < from);
        let hi = self.dated.partition_point(|(d, _)| *d <= to);
        self.dated[lo..hi].iter().fold(self.undated, |acc, (_, e)| acc.plus(e))
    }
}
