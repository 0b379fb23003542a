//! The catalog: a chain of immutable JSON versions `_catalog/v{N:08}.json` holding view
//! definitions, tags and the release each version made. Readers take the highest
//! version; a commit writes `v{N+1}` put-if-absent, so of two racing commits exactly one
//! lands and the other is told (DESIGN.md, warehouse layout).

use std::collections::BTreeMap;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::warehouse::{Warehouse, WarehouseError};

/// Folder of catalog versions under the warehouse root.
pub const CATALOG_PREFIX: &str = "_catalog";

/// One committed catalog version. Fields this release does not know (written by a newer
/// one) are kept, and carried into the next version: the catalog is forward compatible.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CatalogVersion {
    /// N of `v{N:08}.json`; 0 when the warehouse has no catalog yet.
    pub version: u64,
    /// Views by `schema.view` name.
    #[serde(default)]
    pub views: BTreeMap<String, View>,
    /// Tags by name → the catalog version they point at.
    #[serde(default)]
    pub tags: BTreeMap<String, u64>,
    /// Release ids committed in this version's history.
    #[serde(default)]
    pub releases: Vec<String>,
    /// Per consumer view, the backfills whose shadows its body reads, oldest first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub published: BTreeMap<String, Vec<String>>,
    /// The release this version made, if it made one: everything its ledger row holds,
    /// so a missing row can be rebuilt from the catalog.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Release>,
    /// Fields of a newer release, kept as they were.
    #[serde(flatten)]
    pub unknown: serde_json::Map<String, serde_json::Value>,
}

impl CatalogVersion {
    /// Whether backfill `id` is published in `view` according to this version.
    pub fn is_published(&self, view: &str, id: &str) -> bool {
        self.published.get(view).is_some_and(|ids| ids.iter().any(|x| x == id))
    }
}

/// What a release did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseAction {
    /// The consumer view now reads the shadow for the source range.
    Publish,
    /// The consumer view was restored to its body before a publish.
    Rollback,
}

impl std::fmt::Display for ReleaseAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ReleaseAction::Publish => "publish",
            ReleaseAction::Rollback => "rollback",
        })
    }
}

/// One release: a row of `governance.data_releases` (DESIGN.md, release ledger).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    /// The consumer view, `schema.view`.
    pub dataset: String,
    /// `<backfill_id>-<action>-v<catalog version>`; unique.
    pub release_id: String,
    /// The backfill released.
    pub backfill_id: String,
    /// Publish or rollback.
    pub action: ReleaseAction,
    /// When the catalog commit was made (UTC).
    pub published_at: chrono::DateTime<chrono::Utc>,
    /// `start..end` of the source range, plus excluded dates.
    pub source_range: String,
    /// Partitions the release swaps.
    pub partitions: u64,
    /// `git:<commit>` of the spec's repository, when there is one, and the tool version.
    pub code_version: String,
    /// The plan fingerprint executed.
    pub plan_fingerprint: String,
    /// Who approved it.
    pub approved_by: String,
    /// The catalog version this release committed.
    pub catalog_version: u64,
    /// Rows in the shadow's released partitions.
    pub rows_written: u64,
    /// Each metric's old, new and percent delta over the range, as JSON.
    pub metric_deltas: String,
}

/// A view definition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct View {
    /// The view's SELECT, as DataFusion SQL.
    pub sql: String,
}

/// Errors reading the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Listing or reading failed (exit 3).
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// Another commit took version `version` first (exit 4).
    #[error(
        "the catalog moved on: version {version} was committed by someone else while this command ran; \
         nothing of this command was committed\n  \
         fix: check `backfill releases`, then rerun"
    )]
    Conflict {
        /// The version both tried to write.
        version: u64,
    },
    /// A version file is not valid catalog JSON (exit 3).
    #[error(
        "catalog version `{path}` is damaged: {message}\n  \
         fix: restore it from a copy of the warehouse; versions are immutable, never edit one by hand"
    )]
    Corrupt {
        /// Object path of the version.
        path: String,
        /// The JSON parser's message.
        message: String,
    },
}

/// `_catalog/v00000042.json` → 42.
fn version_of(name: &str) -> Option<u64> {
    name.strip_prefix('v')?.strip_suffix(".json")?.parse().ok()
}

/// The object path of version `n`.
pub fn version_path(n: u64) -> ObjectPath {
    ObjectPath::from(format!("{CATALOG_PREFIX}/v{n:08}.json"))
}

/// Every committed version number, ascending.
///
/// Errors: store failures.
pub async fn versions(wh: &Warehouse) -> Result<Vec<u64>, CatalogError> {
    let prefix = ObjectPath::from(CATALOG_PREFIX);
    let metas: Vec<_> = wh.store().list(Some(&prefix)).try_collect().await.map_err(|e| wh.store_error(e))?;
    let mut out: Vec<u64> = metas.iter().filter_map(|m| m.location.filename().and_then(version_of)).collect();
    out.sort_unstable();
    Ok(out)
}

/// Read the highest catalog version, or an empty version 0 when there is none.
///
/// Errors: store failures, or a version that does not parse.
pub async fn latest(wh: &Warehouse) -> Result<CatalogVersion, CatalogError> {
    match versions(wh).await?.last() {
        None => Ok(CatalogVersion::default()),
        Some(n) => read(wh, *n).await,
    }
}

/// Commit `next` as version `next.version`, put-if-absent.
///
/// Errors: [`CatalogError::Conflict`] when that version exists already (someone else
/// committed first; nothing was written); store failures.
pub async fn commit(wh: &Warehouse, next: &CatalogVersion) -> Result<(), CatalogError> {
    let bytes = serde_json::to_vec_pretty(next).expect("serializes");
    let create = PutOptions { mode: PutMode::Create, ..Default::default() };
    match wh.store().put_opts(&version_path(next.version), PutPayload::from(bytes), create).await {
        Ok(_) => Ok(()),
        Err(object_store::Error::AlreadyExists { .. }) => Err(CatalogError::Conflict { version: next.version }),
        Err(e) => Err(wh.store_error(e).into()),
    }
}

/// Define `view` as `body` in a catalog commit of its own, unless `current` defines it
/// already. Returns the catalog as it now is.
///
/// Errors: [`CatalogError::Conflict`] (exit 4) when another commit landed first; store failures.
pub async fn create_view(
    wh: &Warehouse,
    current: CatalogVersion,
    view: &str,
    body: &str,
) -> Result<CatalogVersion, CatalogError> {
    if current.views.contains_key(view) {
        return Ok(current);
    }
    let mut next = current;
    next.version += 1;
    next.release = None;
    next.views.insert(view.to_string(), View { sql: body.to_string() });
    commit(wh, &next).await?;
    tracing::info!(view, version = next.version, "created the consumer view over the base table");
    Ok(next)
}

/// Read version `n`.
///
/// Errors: store failures (a missing version included), or a version that does not parse.
pub async fn read(wh: &Warehouse, n: u64) -> Result<CatalogVersion, CatalogError> {
    let path = version_path(n);
    let bytes =
        wh.store().get(&path).await.map_err(|e| wh.store_error(e))?.bytes().await.map_err(|e| wh.store_error(e))?;
    let mut version: CatalogVersion = serde_json::from_slice(&bytes)
        .map_err(|e| CatalogError::Corrupt { path: path.to_string(), message: e.to_string() })?;
    version.version = n;
    Ok(version)
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_names() {
        assert_eq!(super::version_of("v00000042.json"), Some(42));
        assert_eq!(super::version_of("v42.tmp"), None);
        assert_eq!(super::version_path(7).to_string(), "_catalog/v00000007.json");
    }
}
