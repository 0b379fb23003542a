//! `rollback`: one catalog commit that restores the consumer view's body from the
//! version before this backfill's publish, and a ledger row with action `rollback`.

use super::commit::{commit_release, ReleaseChange};
use super::{ledger, verify};
use crate::catalog::{self, Release, ReleaseAction};
use crate::plan::Plan;
use crate::render::{RenderedPlan, Templates};
use crate::warehouse::Warehouse;
use crate::Error;

/// Roll back the publish of `plan`'s backfill.
///
/// Errors: [`Error::Gate`] (exit 1, nothing changed) when the backfill is not published,
/// or a later backfill was published over it (roll that back first);
/// [`catalog::CatalogError::Conflict`] (exit 4) when another commit landed first.
pub async fn rollback(
    plan: &Plan,
    rendered: &RenderedPlan,
    templates: &Templates,
    wh: &Warehouse,
    approved_by: &str,
) -> Result<Release, Error> {
    let spec = &plan.spec;
    ledger::repair(wh).await?;
    let refuse = |why: String| {
        Err(Error::Gate(format!("refused to roll back {}: {why}; nothing was changed", spec.backfill_id)))
    };
    let view = spec.target.view.to_string();
    let current = catalog::latest(wh).await?;
    if !current.is_published(&view, &spec.backfill_id) {
        return refuse(format!("it is not published in {view} (catalog version {})", current.version));
    }
    let stack = &current.published[&view];
    if stack.last() != Some(&spec.backfill_id) {
        return refuse(format!(
            "{} was published over it later\n  fix: roll that back first",
            stack.last().expect("not empty")
        ));
    }
    let mut publish = None;
    for n in catalog::versions(wh).await?.into_iter().rev() {
        let v = catalog::read(wh, n).await?;
        if v.release.as_ref().is_some_and(|r| {
            r.action == ReleaseAction::Publish && r.backfill_id == spec.backfill_id && r.dataset == view
        }) {
            publish = Some(v);
            break;
        }
    }
    let Some(publish) = publish else {
        return Err(Error::Corrupt {
            path: "_catalog".into(),
            message: format!(
                "{} is marked published in {view} but no catalog version records its publish",
                spec.backfill_id
            ),
        });
    };
    let before = catalog::read(wh, publish.version - 1).await?;
    let Some(body) = before.views.get(&view).cloned() else {
        return Err(Error::Corrupt {
            path: catalog::version_path(before.version).to_string(),
            message: format!("it does not define {view}, which was published over it"),
        });
    };
    let Some(published) = publish.release else { unreachable!("found by its release") };
    // The statement the plan renders for a rollback, with the body from before the publish.
    let statement = crate::render::rollback_statement(plan, templates, &body.sql, rendered.rollback.index)?;
    let change = ReleaseChange {
        action: ReleaseAction::Rollback,
        approved_by: approved_by.to_string(),
        fingerprint: published.plan_fingerprint.clone(),
        partitions: published.partitions,
        rows_written: 0,
        metric_deltas: "[]".into(),
    };
    let (next, release) = commit_release(plan, wh, &current, &statement, change, |next| {
        match before.published.get(&view) {
            Some(ids) => next.published.insert(view.clone(), ids.clone()),
            None => next.published.remove(&view),
        };
    })
    .await?;
    verify::after_rollback(plan, wh, &next, &body.sql).await?;
    Ok(release)
}
