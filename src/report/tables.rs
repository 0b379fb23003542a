//! Tables of the report gathered from every batch: the largest changes (merged, exactly
//! ordered), the first sample rows, and how each compared column is compared.

use std::str::FromStr;

use crate::plan::Plan;
use crate::reconcile::Table;

/// The `limit` largest changes of several batches' top-change tables, by
/// |shadow_<order> − base_<order>|, largest first.
pub(super) fn merge_top_changes<'a>(
    tables: impl Iterator<Item = &'a Table>,
    order: Option<&str>,
    limit: usize,
) -> Table {
    let mut out = Table::default();
    for t in tables {
        if out.columns.is_empty() {
            out.columns = t.columns.clone();
        }
        out.rows.extend(t.rows.iter().cloned());
    }
    if let Some(order) = order {
        let (b, s) = (format!("base_{order}"), format!("shadow_{order}"));
        let pos = |name: &str| out.columns.iter().position(|c| c == name);
        if let (Some(b), Some(s)) = (pos(&b), pos(&s)) {
            // Exact: cells are decimal text; a cell that is not a number (NULL) sorts first.
            let size = |row: &Vec<String>| match (
                bigdecimal::BigDecimal::from_str(&row[b]),
                bigdecimal::BigDecimal::from_str(&row[s]),
            ) {
                (Ok(x), Ok(y)) => Some((y - x).abs()),
                _ => None,
            };
            out.rows.sort_by(|x, y| match (size(x), size(y)) {
                (Some(a), Some(b)) => b.cmp(&a),
                (None, Some(_)) => std::cmp::Ordering::Less,
                (Some(_), None) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            });
        }
    }
    out.rows.truncate(limit);
    out
}

/// How each compared column's values are compared, for the report: floats within a
/// relative tolerance, decimals and integers exactly or within an amount in their units.
pub fn comparisons(plan: &Plan) -> Vec<String> {
    let spec = &plan.spec;
    let keys = &spec.target.keys;
    plan.columns
        .iter()
        .filter(|c| !c.is_partition && !keys.contains(&c.name) && !keys.is_empty())
        .map(|c| {
            let t = &c.data_type;
            let given = spec.validation.value_tolerance.get(&c.name);
            if t.is_floating() {
                format!(
                    "{} ({}): equal within a relative tolerance of {}",
                    c.name,
                    c.sql_type,
                    given.map_or(crate::spec::DEFAULT_FLOAT_TOLERANCE, String::as_str)
                )
            } else if let Some(amount) = given {
                format!("{} ({}): equal within {amount} (exact, in the column's units)", c.name, c.sql_type)
            } else {
                format!("{} ({}): exactly equal", c.name, c.sql_type)
            }
        })
        .collect()
}

/// The first `limit` rows of `tables`, in order, under the first table's columns.
pub(super) fn first_rows<'a>(tables: impl Iterator<Item = &'a Table>, limit: usize) -> Table {
    let mut out = Table::default();
    for t in tables {
        if out.columns.is_empty() {
            out.columns = t.columns.clone();
        }
        out.rows.extend(t.rows.iter().take(limit.saturating_sub(out.rows.len())).cloned());
    }
    out
}
