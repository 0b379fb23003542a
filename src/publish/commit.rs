//! The one way a release lands, for publish and rollback alike: run the rendered view
//! statement in the engine (it must plan against the warehouse as it is), commit the
//! next catalog version with the view's new body and the release row, then write the
//! row into the ledger. The catalog commit is the release; the ledger row follows it
//! (and [`super::ledger::repair`] rebuilds it after a crash in between).

use chrono::Utc;

use super::ledger;
use crate::catalog::{self, CatalogVersion, Release, ReleaseAction, View};
use crate::execute::engine::{DataFusionEngine, Engine};
use crate::execute::session::{self, SessionOptions};
use crate::plan::Plan;
use crate::render::Statement;
use crate::sql::view_definition;
use crate::state::BackfillDir;
use crate::warehouse::Warehouse;
use crate::Error;

/// What a release changes besides the view's body.
pub(super) struct ReleaseChange {
    /// Publish or rollback.
    pub action: ReleaseAction,
    /// Who approved it.
    pub approved_by: String,
    /// The plan fingerprint released.
    pub fingerprint: String,
    /// Partitions the release swaps.
    pub partitions: u64,
    /// Rows in the shadow's released partitions (0 for a rollback).
    pub rows_written: u64,
    /// Each metric's old, new and percent delta, as JSON (`[]` for a rollback).
    pub metric_deltas: String,
}

/// Run `statement` (a rendered CREATE OR REPLACE VIEW of the consumer view) in an engine
/// over `current`, then commit version `current.version + 1` defining the view as the
/// statement's query, edited further by `edit` (tags, published stacks), with the
/// release row; then write the ledger row. Returns the committed version and the release.
///
/// Errors: engine errors when the statement does not run; [`Error::Corrupt`] when it is
/// not a CREATE VIEW of the consumer view; [`catalog::CatalogError::Conflict`] (exit 4)
/// when another commit landed first; store failures.
pub(super) async fn commit_release(
    plan: &Plan,
    wh: &Warehouse,
    current: &CatalogVersion,
    statement: &Statement,
    change: ReleaseChange,
    edit: impl FnOnce(&mut CatalogVersion),
) -> Result<(CatalogVersion, Release), Error> {
    let spec = &plan.spec;
    let view = spec.target.view.to_string();
    let definition = view_definition(&statement.sql).map_err(|message| Error::Corrupt {
        path: format!("the rendered statement {}", statement.step),
        message: format!("{message}\n  fix: the template must render one CREATE OR REPLACE VIEW {view} AS <query>"),
    })?;
    let ctx = session::open(wh, current, &SessionOptions::default()).await?;
    session::ensure_schema(&ctx, &spec.target.view.schema);
    let engine =
        DataFusionEngine::new(ctx, wh, Some(BackfillDir::new(&spec.backfill_id)), spec.execution.query_timeout);
    engine.run(statement).await?;

    let mut next = current.clone();
    next.version += 1;
    next.views.insert(view.clone(), View { sql: definition.body });
    edit(&mut next);
    let release = Release {
        dataset: view,
        release_id: format!("{}-{}-v{}", spec.backfill_id, change.action, next.version),
        backfill_id: spec.backfill_id.clone(),
        action: change.action,
        published_at: Utc::now(),
        source_range: crate::render::scope_text(plan),
        partitions: change.partitions,
        code_version: crate::build_info::code_version(),
        plan_fingerprint: change.fingerprint,
        approved_by: change.approved_by,
        catalog_version: next.version,
        rows_written: change.rows_written,
        metric_deltas: change.metric_deltas,
    };
    next.releases.push(release.release_id.clone());
    next.release = Some(release.clone());
    catalog::commit(wh, &next).await?;
    crate::failpoint::hit(&format!("{}-after-catalog-commit", change.action));
    ledger::write(wh, &release).await?;
    Ok((next, release))
}
