//! The catalog, read side: a chain of immutable JSON versions `_catalog/v{N:08}.json`
//! holding view definitions, tags and release references. Readers take the highest
//! version (DESIGN.md, warehouse layout). Commits arrive with publishing.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use crate::warehouse::{Warehouse, WarehouseError};

/// Folder of catalog versions under the warehouse root.
pub const CATALOG_PREFIX: &str = "_catalog";

/// One committed catalog version.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
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
}

/// A view definition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
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
    /// A version file is not valid catalog JSON (exit 3).
    #[error("catalog version `{path}` is corrupt: {message}")]
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

/// Read the highest catalog version, or an empty version 0 when there is none.
///
/// Errors: store failures, or a version that does not parse.
pub async fn latest(wh: &Warehouse) -> Result<CatalogVersion, CatalogError> {
    let prefix = ObjectPath::from(CATALOG_PREFIX);
    let metas: Vec<_> = wh.store().list(Some(&prefix)).try_collect().await.map_err(|e| wh.store_error(e))?;
    let Some(n) = metas.iter().filter_map(|m| m.location.filename().and_then(version_of)).max() else {
        return Ok(CatalogVersion::default());
    };
    let path = version_path(n);
    let bytes = wh.store().get(&path).await.map_err(|e| wh.store_error(e))?.bytes().await.map_err(|e| wh.store_error(e))?;
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
