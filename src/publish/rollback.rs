//! `rollback`: one catalog commit that restores the consumer view's body from the
//! version before this backfill's publish, and a ledger row with action `rollback`.

use chrono::Utc;

use super::{is_published, ledger, source_range, verify};
use crate::catalog::{self, Release, ReleaseAction};
use crate::plan::Plan;
use crate::warehouse::Warehouse;
use crate::Error;

/// Roll back the publish of `plan`'s backfill.
///
/// Errors: [`Error::Gate`] (exit 1, nothing changed) when the backfill is not published,
/// or a later backfill was published over it (roll that back first);
/// [`catalog::CatalogError::Conflict`] (exit 4) when another commit landed first.
pub async fn rollback(plan: &Plan, wh: &Warehouse, approved_by: &str) -> Result<Release, Error> {
    let spec = &plan.spec;
    ledger::repair(wh).await?;
    let refuse = |why: String| Err(Error::Gate(format!("refused to roll back {}: {why}; nothing was changed", spec.backfill_id)));
    let view = spec.target.view.to_string();
    let current = catalog::latest(wh).await?;
    if !is_published(&current, &view, &spec.backfill_id) {
        return refuse(format!("it is not published in {view} (catalog version {})", current.version));
    }
    let stack = &current.published[&view];
    if stack.last() != Some(&spec.backfill_id) {
        return refuse(format!("{} was published over it later\n  fix: roll that back first", stack.last().expect("not empty")));
    }
    let mut publish = None;
    for n in catalog::versions(wh).await?.into_iter().rev() {
        let v = catalog::read(wh, n).await?;
        if v.release.as_ref().is_some_and(|r| r.action == ReleaseAction::Publish && r.backfill_id == spec.backfill_id && r.dataset == view)
        {
            publish = Some(v);
            break;
        }
    }
    let Some(publish) = publish else {
        return Err(Error::Corrupt {
            path: "_catalog".into(),
            message: format!("{} is marked published in {view} but no catalog version records its publish", spec.backfill_id),
        });
    };
    let before = catalog::read(wh, publish.version - 1).await?;
    let Some(body) = before.views.get(&view).cloned() else {
        return Err(Error::Corrupt {
            path: catalog::version_path(before.version).to_string(),
            message: format!("it does not define {view}, which was published over it"),
        });
    };
    let published = publish.release.expect("found by its release");
    let mut next = current.clone();
    next.version += 1;
    next.views.insert(view.clone(), body.clone());
    match before.published.get(&view) {
        Some(ids) => next.published.insert(view.clone(), ids.clone()),
        None => next.published.remove(&view),
    };
    let release = Release {
        dataset: view.clone(),
        release_id: format!("{}-rollback-v{}", spec.backfill_id, next.version),
        backfill_id: spec.backfill_id.clone(),
        action: ReleaseAction::Rollback,
        published_at: Utc::now(),
        source_range: source_range(spec),
        partitions: published.partitions,
        code_version: crate::build_info::code_version(),
        plan_fingerprint: published.plan_fingerprint.clone(),
        approved_by: approved_by.to_string(),
        catalog_version: next.version,
        rows_written: 0,
        metric_deltas: "[]".into(),
    };
    next.releases.push(release.release_id.clone());
    next.release = Some(release.clone());
    catalog::commit(wh, &next).await?;
    crate::failpoint::hit("rollback-after-catalog-commit");
    ledger::write(wh, &release).await?;
    verify::after_rollback(plan, wh, &next, &body.sql).await?;
    Ok(release)
}
