//! Stage 7: publishing. The consumer view is redefined in one catalog commit: the shadow
//! for the source range, the previous body for everything else (DESIGN.md, publishing);
//! the previous version is tagged with `rollback.snapshot`, and a row goes into the
//! release ledger ([`ledger`]). [`rollback`] restores the previous body the same way,
//! from the catalog and the ledger alone (no plan, no transform).
//!
//! Crash safety: the catalog commit is the release. A crash before it changes nothing; a
//! crash after it leaves a ledger row missing, which [`ledger::repair`] (run first by
//! every command that reads or writes releases: publish, rollback, releases, query)
//! rebuilds from the catalog, saying so in a warning.

mod commit;
pub mod ledger;
pub mod rollback;
mod verify;

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use commit::{commit_release, ReleaseChange};

use crate::catalog::{self, Release, ReleaseAction};
use crate::error::store_err;
use crate::plan::Plan;
use crate::reconcile::{Checkpoint, RangeReconciliation};
use crate::render::RenderedPlan;
use crate::spec::{ReasonKind, Spec};
use crate::state::{self, BackfillDir, BatchState, ObjectVersion, PlanRecord};
use crate::warehouse::Warehouse;
use crate::Error;

/// What `publish` needs besides the plan.
#[derive(Debug, Clone, Default)]
pub struct PublishOptions {
    /// Who approved the release (recorded in the ledger).
    pub approved_by: String,
    /// The fingerprint the approver reviewed; must equal the executed one when given.
    pub fingerprint: Option<String>,
    /// Allow publishing a `reason.kind: reinterpretation`.
    pub allow_reinterpretation: bool,
}

/// Publish `plan`: check, commit the view swap, write the ledger row, verify.
///
/// Errors: [`Error::Gate`] (exit 1, nothing changed) when a check says no: a batch not
/// done, a changed plan or a fingerprint other than the approved one, base partitions
/// changed since they were reconciled, a reinterpretation without permission, or the
/// backfill already published; [`catalog::CatalogError::Conflict`] (exit 4) when another
/// commit landed first; [`Error::Corrupt`] (exit 3) when the view read back does not
/// match what was published.
pub async fn publish(
    plan: &Plan,
    rendered: &RenderedPlan,
    wh: &Warehouse,
    opts: &PublishOptions,
) -> Result<Release, Error> {
    let spec = &plan.spec;
    ledger::repair(wh).await?;
    let refuse = |why: String| {
        Err(Error::Gate(format!("refused to publish {}: {why}; nothing was published", spec.backfill_id)))
    };
    let current = catalog::latest(wh).await?;
    let view = spec.target.view.to_string();
    if current.is_published(&view, &spec.backfill_id) {
        return refuse(format!(
            "it is already published in {view} (catalog version {})\n  \
             fix: nothing to do; `backfill rollback SPEC` undoes it",
            current.version
        ));
    }
    let dir = BackfillDir::new(&spec.backfill_id);
    let Some(record) = state::read_json::<PlanRecord>(wh, &dir.plan()).await? else {
        return refuse("it has not run\n  fix: backfill run SPEC --execute".into());
    };
    if record.fingerprint != rendered.fingerprint {
        return refuse(format!(
            "the plan changed since it was executed (executed {}, now {})\n  \
             fix: restore the spec, or rerun `run --execute --restart` and review again",
            state::short_fingerprint(&record.fingerprint),
            state::short_fingerprint(&rendered.fingerprint)
        ));
    }
    if let Some(approved) = &opts.fingerprint {
        let approved = approved.trim().trim_start_matches("sha256:");
        if approved.len() < 12 || !record.fingerprint.starts_with(approved) {
            return refuse(format!(
                "--fingerprint {approved} is not the executed plan's fingerprint {}\n  \
                 fix: review the report of the executed plan and approve its fingerprint",
                record.fingerprint
            ));
        }
    }
    if spec.reason.kind == ReasonKind::Reinterpretation && !opts.allow_reinterpretation {
        return refuse(
            "reason.kind is `reinterpretation`: history will change meaning, not just be corrected\n  \
             fix: confirm with the dataset's consumers, then pass --allow-reinterpretation"
                .into(),
        );
    }
    let checkpoints: Vec<Checkpoint> = state::checkpoints(wh, &dir).await?;
    let done: BTreeSet<u32> = checkpoints
        .iter()
        .filter(|c| c.state == BatchState::Done && c.fingerprint == record.fingerprint)
        .map(|c| c.batch)
        .collect();
    let missing: Vec<String> =
        plan.batches.iter().filter(|b| !done.contains(&b.number)).map(|b| b.number.to_string()).collect();
    if !missing.is_empty() {
        return refuse(format!(
            "{} of {} batches are not done and passed: {}\n  \
             fix: backfill run SPEC --execute, until every batch passes its gates",
            missing.len(),
            plan.batches.len(),
            abbreviate(&missing)
        ));
    }
    let range = state::read_json::<RangeReconciliation>(wh, &dir.range()).await?;
    let last_batch = checkpoints.iter().filter(|c| done.contains(&c.batch)).map(|c| c.finished_at).max();
    let range = match range {
        Some(r) if r.covers(&record.fingerprint, last_batch) => r,
        _ => {
            return refuse(
                "the whole-range reconciliation has not been computed since the last batch finished\n  \
                 fix: backfill run SPEC --execute (it computes it once every batch is done)"
                    .into(),
            )
        }
    };
    let failed: Vec<String> = range.failed().iter().map(|g| format!("{}: {}", g.name, g.detail)).collect();
    if !failed.is_empty() {
        return refuse(format!(
            "the whole range failed its gates: {}\n  \
             fix: correct the transform or the expected range, then run --execute --restart",
            failed.join("; ")
        ));
    }
    let moved = changed_base_partitions(
        wh,
        spec,
        checkpoints.iter().filter(|c| done.contains(&c.batch)).flat_map(|c| c.base_files.iter()),
    )
    .await?;
    if !moved.is_empty() {
        return refuse(format!(
            "the base table changed since these partitions were reconciled: {}\n  \
             fix: rerun the batches holding them (delete their checkpoints under _backfills/{}/batches/ \
             and run --execute), then publish",
            abbreviate(&moved),
            spec.backfill_id
        ));
    }
    let Some(previous) = current.views.get(&view) else {
        return refuse(format!("the catalog has no view {view}\n  fix: backfill run SPEC --execute creates it"));
    };
    let report = crate::report::build(plan, &record.fingerprint, &checkpoints, Some(&range));
    let metric_deltas = serde_json::to_string(
        &report
            .metrics
            .iter()
            .map(|m| serde_json::json!({"metric": m.name, "old": m.old, "new": m.new, "percent": m.percent}))
            .collect::<Vec<_>>(),
    )
    .expect("serializes");
    let change = ReleaseChange {
        action: ReleaseAction::Publish,
        view: spec.target.view.clone(),
        backfill_id: spec.backfill_id.clone(),
        source_range: crate::render::scope_text(plan),
        approved_by: opts.approved_by.clone(),
        fingerprint: record.fingerprint.clone(),
        partitions: plan.partitions.len() as u64,
        rows_written: checkpoints.iter().filter(|c| done.contains(&c.batch)).map(|c| c.rows_written).sum(),
        metric_deltas,
    };
    let previous = previous.sql.clone();
    let timeout = Some(spec.execution.query_timeout);
    let (next, release) = commit_release(wh, &current, &rendered.view_swap, change, timeout, |next| {
        next.tags.insert(spec.rollback.snapshot.clone(), current.version);
        next.published.entry(view.clone()).or_default().push(spec.backfill_id.clone());
    })
    .await?;
    verify::after_publish(plan, wh, &next, &previous).await?;
    Ok(release)
}

/// Partitions whose base files differ from `recorded` (added, removed or resized files).
async fn changed_base_partitions(
    wh: &Warehouse,
    spec: &Spec,
    recorded: impl Iterator<Item = &ObjectVersion>,
) -> Result<Vec<String>, Error> {
    let key = &spec.target.partition_key;
    let folder_of = |path: &str| path.split('/').find(|p| p.starts_with(&format!("{key}="))).map(str::to_string);
    let then: BTreeMap<String, ObjectVersion> = recorded.map(|f| (f.path.clone(), f.clone())).collect();
    let folders: BTreeSet<String> = spec.source_range.partitions().iter().map(|d| format!("{key}={d}")).collect();
    let prefix = ObjectPath::from(spec.target.table.prefix().trim_end_matches('/'));
    let metas: Vec<_> = wh.store().list(Some(&prefix)).try_collect().await.map_err(|e| store_err(wh, e))?;
    let now: BTreeMap<String, ObjectVersion> = metas
        .iter()
        .map(ObjectVersion::of)
        .filter(|v| folder_of(&v.path).is_some_and(|f| folders.contains(&f)))
        .map(|v| (v.path.clone(), v))
        .collect();
    // A file added, removed, or rewritten (size, e_tag or version differ) since reconcile.
    let changed: BTreeSet<String> = then
        .iter()
        .filter(|(path, v)| now.get(*path).is_none_or(|n| v.differs(n)))
        .map(|(path, _)| path)
        .chain(now.keys().filter(|path| !then.contains_key(*path)))
        .filter_map(|path| folder_of(path))
        .collect();
    Ok(changed.into_iter().collect())
}

/// The first ten items, then how many more.
fn abbreviate(items: &[String]) -> String {
    let mut text = items.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 10 {
        text.push_str(&format!(" and {} more", items.len() - 10));
    }
    text
}
