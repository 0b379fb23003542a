//! The warehouse, read-only: tables as hive-partitioned Parquet under one root, found by
//! listing through `object_store`. A local path is the default; `file://`, `memory://`
//! and `s3://` URLs go through their object stores. Nothing here writes.

mod footer;
mod listing;
mod read;

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use url::Url;

pub use footer::{read_footer, FileStats};
pub use listing::{DataFile, PartitionColumn, PartitionType, TableListing, HIVE_DEFAULT_PARTITION};
pub use read::{check_file, partition_files, read_partition, PartitionRows, UnreadableFile};

use crate::spec::TableName;

/// Errors opening or reading the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The location is neither an existing folder nor a supported URL (exit 2).
    #[error("warehouse `{location}`: {problem}\n  fix: {fix}")]
    Location {
        /// The location as given.
        location: String,
        /// What is wrong with it.
        problem: String,
        /// How to point at a warehouse instead.
        fix: String,
    },
    /// Listing or reading an object failed (exit 3).
    #[error("warehouse `{location}`: {source}")]
    Store {
        /// The warehouse location.
        location: String,
        /// The object store's error.
        #[source]
        source: object_store::Error,
    },
    /// A Parquet footer could not be read (exit 3).
    #[error("warehouse `{location}`: cannot read the Parquet footer of `{path}`: {message}\n  fix: {RESTORE}")]
    Footer {
        /// The warehouse location.
        location: String,
        /// Object path of the file.
        path: String,
        /// The parquet reader's message.
        message: String,
    },
    /// A data file could not be decoded, or its columns do not fit the table (exit 3).
    #[error(
        "warehouse `{location}`: cannot read `{path}`: {message}\n  \
         fix: {RESTORE}, as valid Parquet with the table's columns"
    )]
    Data {
        /// The warehouse location.
        location: String,
        /// Object path of the file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The engine failed while reading Parquet, and these files of the warehouse turned
    /// out not to read (see [`Warehouse::find_unreadable`]) (exit 3).
    #[error("{}", unreadable(.location, .files, .engine))]
    Unreadable {
        /// The warehouse location.
        location: String,
        /// The files that do not read, by path; at least one.
        files: Vec<UnreadableFile>,
        /// The engine's own message.
        engine: String,
    },
}

/// How to fix a damaged data file.
const RESTORE: &str =
    "restore the file from a backup, or rewrite its partition with the pipeline that produced it; then rerun";

/// Files listed by name in an [`WarehouseError::Unreadable`] message; the rest are counted.
const SHOWN: usize = 10;

fn unreadable(location: &str, files: &[UnreadableFile], engine: &str) -> String {
    let mut out = match files {
        [one] => format!("warehouse `{location}`: cannot read `{}`: {}", one.path, one.problem),
        _ => {
            let mut s = format!("warehouse `{location}`: {} Parquet files cannot be read:", files.len());
            for f in files.iter().take(SHOWN) {
                s.push_str(&format!("\n  `{}`: {}", f.path, f.problem));
            }
            if files.len() > SHOWN {
                s.push_str(&format!("\n  and {} more", files.len() - SHOWN));
            }
            s
        }
    };
    out.push_str(&format!("\n  the engine stopped with: {}\n  fix: {RESTORE}", engine.trim_end()));
    out
}

/// Bytes of Parquet [`Warehouse::find_unreadable`] decodes at most (footers of the files
/// it searches are read whatever the size).
pub const UNREADABLE_SCAN_BUDGET: u64 = 4 << 30;

/// An open warehouse: an object store rooted at the warehouse's top folder.
#[derive(Debug, Clone)]
pub struct Warehouse {
    location: String,
    store: Arc<dyn ObjectStore>,
}

impl Warehouse {
    /// Open `location`: a local folder (must exist), or a `file://`, `memory://` or
    /// `s3://bucket/prefix` URL (S3 credentials and region come from the usual `AWS_*`
    /// environment variables). Opening lists nothing.
    ///
    /// Errors: [`WarehouseError::Location`] for a missing folder or an unsupported scheme.
    pub fn open(location: &str) -> Result<Self, WarehouseError> {
        let bad = |problem: String, fix: &str| WarehouseError::Location {
            location: location.to_string(),
            problem,
            fix: fix.to_string(),
        };
        let store: Arc<dyn ObjectStore> = if let Some((scheme, _)) = location.split_once("://") {
            let url = Url::parse(location).map_err(|e| {
                bad(format!("not a URL ({e})"), "write e.g. s3://bucket/warehouse or file:///data/warehouse")
            })?;
            match scheme {
                "file" => {
                    let path = url
                        .to_file_path()
                        .map_err(|_| bad("not a local file URL".into(), "write file:///absolute/path"))?;
                    return Self::open(&path.display().to_string());
                }
                "memory" => Arc::new(InMemory::new()),
                "s3" | "s3a" => {
                    let bucket = url.host_str().unwrap_or_default();
                    let s3 = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket).build().map_err(
                        |e| {
                            bad(
                                format!("cannot configure S3 ({e})"),
                                "set AWS_REGION and credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) \
                                 in the environment",
                            )
                        },
                    )?;
                    let prefix = url.path().trim_matches('/');
                    if prefix.is_empty() {
                        Arc::new(s3)
                    } else {
                        Arc::new(PrefixStore::new(s3, prefix))
                    }
                }
                other => {
                    return Err(bad(
                        format!("the scheme `{other}://` is not supported"),
                        "use a local path, file://, memory:// or s3://",
                    ))
                }
            }
        } else {
            let path = Path::new(location);
            if !path.is_dir() {
                return Err(bad(
                    "no such folder".into(),
                    "pass --warehouse, set BACKFILL_WAREHOUSE, or set `warehouse:` in the spec \
                     (relative to the spec file)",
                ));
            }
            let fs = LocalFileSystem::new_with_prefix(path)
                .map_err(|e| bad(e.to_string(), "check the folder's permissions"))?;
            Arc::new(fs)
        };
        Ok(Self { location: location.to_string(), store })
    }

    /// Wrap an existing store (tests, `memory://` fixtures). `location` is only shown in messages.
    pub fn from_store(location: &str, store: Arc<dyn ObjectStore>) -> Self {
        Self { location: location.to_string(), store }
    }

    /// The location as the user gave it.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The object store, rooted at the warehouse top.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub(crate) fn store_error(&self, source: object_store::Error) -> WarehouseError {
        WarehouseError::Store { location: self.location.clone(), source }
    }

    /// Every `schema.table` under the root, sorted. Folders whose names are not plain
    /// identifiers (`_catalog`, `_backfills`, `_live`) are not tables. Lists folders, not
    /// files: one delimiter listing of the root and one per schema folder.
    pub async fn tables(&self) -> Result<Vec<TableName>, WarehouseError> {
        listing::tables(self).await
    }

    /// Whether `table` is a table of the warehouse, as [`Warehouse::tables`] would list
    /// it (a folder `<schema>/<table>/`), from one delimiter listing of its schema's folder.
    ///
    /// Errors: store failures.
    pub async fn has_table(&self, table: &TableName) -> Result<bool, WarehouseError> {
        listing::has_table(self, table).await
    }

    /// List one table's files and partition columns.
    ///
    /// Errors: store failures. A table with no files yields an empty listing.
    pub async fn list_table(&self, table: &TableName) -> Result<TableListing, WarehouseError> {
        listing::list_table(self, table).await
    }

    /// The Parquet files of this warehouse that cannot be read, sorted by path: called
    /// after an engine error that came from decoding Parquet, which does not say which
    /// file. The `focus` tables come first: the footer of each of their files, then whole
    /// files, those with a DATE partition in `range` (all when `range` is `None`) before
    /// the others. Only when none of those is unreadable are the other tables listed and
    /// searched the same way (a session reads only the tables its statements read, so
    /// the file is most likely among the focus tables). Whole files are decoded within
    /// [`UNREADABLE_SCAN_BUDGET`] bytes in all; scanning stops at the first group with an
    /// unreadable file. Empty when every file read. Empty objects are not looked at: the
    /// engine skips them too.
    ///
    /// Errors: store failures listing the tables.
    pub async fn find_unreadable(
        &self,
        focus: &[TableName],
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Vec<UnreadableFile>, WarehouseError> {
        let mut budget = UNREADABLE_SCAN_BUDGET;
        let mut groups: [Vec<DataFile>; 2] = Default::default();
        let mut seen: Vec<&TableName> = Vec::new();
        for table in focus {
            if seen.contains(&table) {
                continue;
            }
            seen.push(table);
            let listing = self.list_table(table).await?;
            let dates: Vec<&str> = listing
                .partition_columns
                .iter()
                .filter(|c| c.data_type == PartitionType::Date)
                .map(|c| c.name.as_str())
                .collect();
            // Empty objects are skipped, as the engine skips them.
            for file in listing.files.into_iter().filter(|f| f.size > 0) {
                let in_range = match range {
                    None => true,
                    Some((from, to)) => {
                        dates.is_empty()
                            || dates
                                .iter()
                                .filter_map(|c| file.partition_value(c))
                                .filter_map(|v| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok())
                                .any(|d| d >= from && d <= to)
                    }
                };
                groups[usize::from(!in_range)].push(file);
            }
        }
        let bad = read::find_unreadable(self, &groups, &mut budget).await;
        if !bad.is_empty() {
            return Ok(bad);
        }
        let mut others = Vec::new();
        for table in self.tables().await?.iter().filter(|t| !focus.contains(t)) {
            others.extend(self.list_table(table).await?.files.into_iter().filter(|f| f.size > 0));
        }
        Ok(read::find_unreadable(self, &[others], &mut budget).await)
    }
}
