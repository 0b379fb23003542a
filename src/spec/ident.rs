//! Identifier rules. Every table and column name in a spec becomes part of a SQL
//! statement and of an object-store path, so it is checked here, when the spec is read,
//! and quoted again by the rendering filters (defence in depth).

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

static COLUMN: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z_][a-z0-9_]{0,62}$").unwrap());
static BACKFILL_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9_-]{0,62}$").unwrap());
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap());

/// The fix shown with every identifier error.
pub const IDENT_RULE: &str =
    "use lowercase letters, digits and underscores, starting with a letter or underscore (at most 63 characters)";

/// Check a plain column name (`merchant_id`): `[a-z_][a-z0-9_]{0,62}`. No quotes, dots,
/// separators, path segments or SQL.
pub fn check_column(name: &str) -> Result<(), String> {
    if COLUMN.is_match(name) {
        Ok(())
    } else {
        Err(format!("`{name}` is not a plain column name"))
    }
}

/// Check a backfill id: `[a-z0-9][a-z0-9_-]{0,62}` (DESIGN.md, spec section).
pub fn check_backfill_id(id: &str) -> Result<(), String> {
    if BACKFILL_ID.is_match(id) {
        Ok(())
    } else {
        Err(format!("`{id}` does not match [a-z0-9][a-z0-9_-]{{0,62}}"))
    }
}

/// Check a catalog tag name (`finance.daily_revenue_pre_FIN_2841`):
/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn check_tag(tag: &str) -> Result<(), String> {
    if TAG.is_match(tag) && !tag.contains("..") {
        Ok(())
    } else {
        Err(format!("`{tag}` is not a tag name; use letters, digits, `_`, `.` and `-`"))
    }
}

/// A `schema.table` name, both parts plain identifiers. Tables live at
/// `<warehouse>/<schema>/<table>/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct TableName {
    /// The schema (first path segment under the warehouse).
    pub schema: String,
    /// The table (second path segment).
    pub table: String,
}

impl TableName {
    /// Parse `schema.table`.
    ///
    /// Errors: not exactly two dot-separated parts, or a part that is not a plain identifier.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split('.');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(schema), Some(table), None) if COLUMN.is_match(schema) && COLUMN.is_match(table) => {
                Ok(Self { schema: schema.to_string(), table: table.to_string() })
            }
            _ => Err(format!("`{text}` is not a `schema.table` name")),
        }
    }

    /// Build from two parts already known to be identifiers (listing, defaults).
    pub fn new(schema: &str, table: &str) -> Self {
        Self { schema: schema.to_string(), table: table.to_string() }
    }

    /// The table's folder under the warehouse root, with a trailing slash: `finance/daily_revenue/`.
    pub fn prefix(&self) -> String {
        format!("{}/{}/", self.schema, self.table)
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)
    }
}

impl From<TableName> for String {
    fn from(t: TableName) -> String {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_injection_and_traversal() {
        assert!(TableName::parse("finance.daily_revenue").is_ok());
        for bad in ["finance", "a.b.c", "../etc.passwd", "finance.x; drop table y", "Finance.x", "f.\"x\"", "f.x/y"] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
        assert!(check_column("merchant_id").is_ok());
        assert!(check_column("id); DROP TABLE x; --").is_err());
        assert!(check_backfill_id("revenue-tax-fix-2026-06").is_ok());
        assert!(check_backfill_id("-bad").is_err());
        assert!(check_tag("finance.daily_revenue_pre_FIN_2841").is_ok());
        assert!(check_tag("../x").is_err());
    }
}
