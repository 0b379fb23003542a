//! The one way a release lands, for publish and rollback alike: run the rendered view
//! statement in the engine (it must plan against the warehouse as it is), commit the
//! next catalog version with the view's new body and the release row, then write the
//! row into the ledger. The catalog commit is the release; the ledger row follows it
//! (and [`super::ledger::repair`] rebuilds it after a crash in between). It takes no
//! plan: publish has one, rollback works from the catalog alone.

use std::time::Duration;

use chrono::Utc;

use super::ledger;
use crate::catalog::{self, CatalogVersion, Release, ReleaseAction, View};
use crate::execute::engine::{DataFusionEngine, Engine};
use crate::execute::session::{self, SessionOptions};
use crate::render::Statement;
use crate::spec::TableName;
use crate::sql::view_definition;
use crate::state::BackfillDir;
use crate::warehouse::Warehouse;
use crate::Error;

/// What a release is and what it changes besides the view's body: typed values that
/// publish takes from its plan and rollback from the catalog.
pub(super) struct ReleaseChange {
    /// Publish or rollback.
    pub action: ReleaseAction,
    /// The consumer view released (the ledger's `dataset`).
    pub view: TableName,
    /// The backfill released.
    pub backfill_id: String,
    /// The source range as the ledger shows it ([`crate::render::scope_text`]).
    pub source_range: String,
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

/// The session of a release's statement and its verification. A rollback leaves out
/// tables that no longer register (say a source table whose files no longer share a
/// schema): it must work whatever became of the tables the restored body does not read.
pub(super) fn release_session(action: ReleaseAction) -> SessionOptions {
    SessionOptions { skip_unregistrable: action == ReleaseAction::Rollback, ..SessionOptions::default() }
}

/// Run `statement` (a rendered CREATE OR REPLACE VIEW of the consumer view) in an engine
/// over `current`, limited to `query_timeout` when given, then commit version
/// `current.version + 1` defining the view as the statement's query, edited further by
/// `edit` (tags, published stacks), with the release row; then write the ledger row.
/// Returns the committed version and the release.
///
/// Failpoints (see [`crate::failpoint`]), `<action>` being `publish` or `rollback`:
/// `<action>-before-catalog-commit` once the statement ran, `<action>-after-catalog-commit`
/// and `<action>-after-ledger-write`.
///
/// Errors: engine errors when the statement does not run; [`Error::Corrupt`] when it is
/// not a CREATE VIEW of the consumer view; [`catalog::CatalogError::Conflict`] (exit 4)
/// when another commit landed first; store failures.
pub(super) async fn commit_release(
    wh: &Warehouse,
    current: &CatalogVersion,
    statement: &Statement,
    change: ReleaseChange,
    query_timeout: Option<Duration>,
    edit: impl FnOnce(&mut CatalogVersion),
) -> Result<(CatalogVersion, Release), Error> {
    let view = change.view.to_string();
    let definition = view_definition(&statement.sql).map_err(|message| Error::Corrupt {
        path: format!("the rendered statement {}", statement.step),
        message: format!("{message}\n  fix: the template must render one CREATE OR REPLACE VIEW {view} AS <query>"),
    })?;
    let ctx = session::open(wh, current, &release_session(change.action)).await?;
    session::ensure_schema(&ctx, &change.view.schema);
    // Release statements are not timed by the engine (only batches and the whole range are).
    let limit = query_timeout.unwrap_or(Duration::MAX);
    let engine = DataFusionEngine::new(ctx, wh, Some(BackfillDir::new(&change.backfill_id)), limit);
    engine.run(statement).await?;

    let mut next = current.clone();
    next.version += 1;
    next.views.insert(view.clone(), View { sql: definition.body });
    edit(&mut next);
    let release = Release {
        dataset: view,
        release_id: format!("{}-{}-v{}", change.backfill_id, change.action, next.version),
        backfill_id: change.backfill_id,
        action: change.action,
        published_at: Utc::now(),
        source_range: change.source_range,
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
    crate::failpoint::hit(&format!("{}-before-catalog-commit", release.action));
    catalog::commit(wh, &next).await?;
    crate::failpoint::hit(&format!("{}-after-catalog-commit", release.action));
    ledger::write(wh, &release).await?;
    crate::failpoint::hit(&format!("{}-after-ledger-write", release.action));
    Ok((next, release))
}
