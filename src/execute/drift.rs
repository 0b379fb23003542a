//! The source drift guard of a resumed run. Each batch records the source objects its
//! write read (listed just before the write: path, size, e_tag, version); a rerun lists
//! them again for every batch already done and refuses to go on when any differs, since
//! the shadow would then mix partitions computed from two versions of the source.

use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::error::store_err;
use crate::plan::Plan;
use crate::state::{Checkpoint, ObjectVersion};
use crate::warehouse::Warehouse;
use crate::Error;

/// The objects under `prefix`, by path.
async fn listed(wh: &Warehouse, prefix: &str) -> Result<Vec<ObjectVersion>, Error> {
    let prefix = ObjectPath::from(prefix.trim_end_matches('/'));
    let metas: Vec<_> = wh.store().list(Some(&prefix)).try_collect().await.map_err(|e| store_err(wh, e))?;
    Ok(metas.iter().map(ObjectVersion::of).collect())
}

/// The source objects a batch of `partitions` reads: for a source partitioned by a DATE
/// column, the objects of its folders `<column>=<day>/` (that column being the table's
/// outermost partition level); for any other source, every object of the table. Sorted
/// by path.
///
/// Errors: store failures.
pub(super) async fn batch_sources(
    plan: &Plan,
    wh: &Warehouse,
    partitions: &[NaiveDate],
) -> Result<Vec<ObjectVersion>, Error> {
    let mut out = Vec::new();
    for source in &plan.sources {
        let table = source.table.prefix();
        match &source.partition_column {
            Some(column) => {
                for day in partitions {
                    out.extend(listed(wh, &format!("{table}{column}={day}/")).await?);
                }
            }
            None => out.extend(listed(wh, &table).await?),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// What changed between `then` and `now` (both sorted by path): each path changed,
/// removed or added, e.g. `sales/orders/d=2025-01-01/a.parquet (rewritten)`.
pub(super) fn differences(then: &[ObjectVersion], now: &[ObjectVersion]) -> Vec<String> {
    let mut out = Vec::new();
    for t in then {
        match now.iter().find(|n| n.path == t.path) {
            None => out.push(format!("{} (removed)", t.path)),
            Some(n) if t.differs(n) => out.push(format!("{} (rewritten)", t.path)),
            Some(_) => {}
        }
    }
    out.extend(now.iter().filter(|n| !then.iter().any(|t| t.path == n.path)).map(|n| format!("{} (added)", n.path)));
    out
}

/// Refuse to resume when a done batch's sources changed since it was written.
///
/// Errors: [`Error::Gate`] (exit 1) naming each batch and object; store failures.
pub(super) async fn check_done_batches<O>(plan: &Plan, wh: &Warehouse, done: &[&Checkpoint<O>]) -> Result<(), Error> {
    let mut changed = Vec::new();
    for c in done.iter().filter(|c| !c.sources.is_empty()) {
        let now = batch_sources(plan, wh, &c.partitions).await?;
        let diff = differences(&c.sources, &now);
        if !diff.is_empty() {
            let more = if diff.len() > 5 { format!(" and {} more", diff.len() - 5) } else { String::new() };
            changed.push(format!("batch {}: {}{more}", c.batch, diff[..diff.len().min(5)].join(", ")));
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(Error::Gate(format!(
        "refused to resume: the source changed under batches already done, so the shadow would mix two versions \
         of it:\n  {}\n  fix: rerun with --restart to compute every batch from the source as it is now",
        changed.join("\n  ")
    )))
}

#[cfg(test)]
mod tests {
    use super::{differences, ObjectVersion};

    fn v(path: &str, size: u64, e_tag: &str) -> ObjectVersion {
        ObjectVersion { path: path.into(), size, e_tag: Some(e_tag.into()), version: None }
    }

    #[test]
    fn a_same_size_rewrite_a_removal_and_an_addition_are_each_named() {
        let then = [v("a", 10, "1"), v("b", 10, "1"), v("c", 10, "1")];
        let now = [v("a", 10, "1"), v("b", 10, "2"), v("d", 5, "1")];
        assert_eq!(differences(&then, &now), ["b (rewritten)", "c (removed)", "d (added)"]);
        // An older checkpoint without e_tags compares by size only.
        let old = [ObjectVersion { e_tag: None, ..v("a", 10, "") }];
        assert!(differences(&old, &[v("a", 10, "9")]).is_empty());
    }
}
