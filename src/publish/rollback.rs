//! `rollback`: one catalog commit that restores the consumer view's body from the
//! version before this backfill's publish, and a ledger row with action `rollback`.
//!
//! It needs only the backfill's id and consumer view: everything else comes from the
//! catalog (the publish's version holds its [`Release`]: source range, partitions,
//! fingerprint; the version before it holds the view's previous body) and the ledger. No
//! plan is built and the transform is never read, so a backfill whose transform file is
//! gone or whose source tables changed can still be rolled back (DESIGN.md, faults).

use super::commit::{commit_release, ReleaseChange};
use super::{ledger, verify};
use crate::catalog::{self, CatalogVersion, Release, ReleaseAction};
use crate::render::{rollback_statement, Step, Templates};
use crate::spec::TableName;
use crate::state::{self, BackfillDir};
use crate::warehouse::Warehouse;
use crate::Error;

/// Roll back the publish of backfill `backfill_id` in consumer view `view`, rendering the
/// statement from `templates`' `rollback` template; `approved_by` goes into the ledger.
///
/// Errors: [`Error::Gate`] (exit 1, nothing changed) when the backfill is not published,
/// or a later backfill was published over it (roll that back first);
/// [`catalog::CatalogError::Conflict`] (exit 4) when another commit landed first;
/// [`Error::Corrupt`] when the catalog lacks the publish's version or the body before it,
/// or the view read back differs from the restored body.
pub async fn rollback(
    wh: &Warehouse,
    backfill_id: &str,
    view: &TableName,
    templates: &Templates,
    approved_by: &str,
) -> Result<Release, Error> {
    ledger::repair(wh).await?;
    let refuse =
        |why: String| Err(Error::Gate(format!("refused to roll back {backfill_id}: {why}; nothing was changed")));
    let name = view.to_string();
    let current = catalog::latest(wh).await?;
    if !current.is_published(&name, backfill_id) {
        return refuse(format!("it is not published in {name} (catalog version {})", current.version));
    }
    if let Some(later) = current.published.get(&name).and_then(|stack| stack.last()).filter(|id| *id != backfill_id) {
        return refuse(format!("{later} was published over it later\n  fix: roll that back first"));
    }
    let (published, before) = publish_and_before(wh, backfill_id, &name).await?;
    let Some(body) = before.views.get(&name).map(|v| v.sql.clone()) else {
        return Err(Error::Corrupt {
            path: catalog::version_path(before.version).to_string(),
            message: format!("it does not define {name}, which was published over it"),
        });
    };
    // The rollback's place in the plan is right after the view swap that published it.
    let dir = BackfillDir::new(backfill_id);
    let index = state::saved_statement_index(wh, &dir, Step::ViewSwap.name()).await?.map_or(0, |i| i + 1);
    let statement = rollback_statement(view, templates, &body, index)?;
    let change = ReleaseChange {
        action: ReleaseAction::Rollback,
        view: view.clone(),
        backfill_id: backfill_id.to_string(),
        source_range: published.source_range,
        approved_by: approved_by.to_string(),
        fingerprint: published.plan_fingerprint,
        partitions: published.partitions,
        rows_written: 0,
        metric_deltas: "[]".into(),
    };
    let (next, release) = commit_release(wh, &current, &statement, change, None, |next| {
        match before.published.get(&name) {
            Some(ids) => next.published.insert(name.clone(), ids.clone()),
            None => next.published.remove(&name),
        };
    })
    .await?;
    verify::after_rollback(wh, &next, view, &body).await?;
    Ok(release)
}

/// The release of the latest publish of `backfill_id` in `view`, and the catalog version
/// before it.
///
/// Errors: [`Error::Corrupt`] when no catalog version records that publish; store failures.
async fn publish_and_before(wh: &Warehouse, backfill_id: &str, view: &str) -> Result<(Release, CatalogVersion), Error> {
    for n in catalog::versions(wh).await?.into_iter().rev() {
        let release = catalog::read(wh, n)
            .await?
            .release
            .filter(|r| r.action == ReleaseAction::Publish && r.backfill_id == backfill_id && r.dataset == view);
        if let Some(release) = release {
            let before = match n.checked_sub(1) {
                Some(b) => catalog::read(wh, b).await?,
                None => CatalogVersion::default(),
            };
            return Ok((release, before));
        }
    }
    Err(Error::Corrupt {
        path: catalog::CATALOG_PREFIX.into(),
        message: format!("{backfill_id} is marked published in {view} but no catalog version records its publish"),
    })
}
