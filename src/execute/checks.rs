//! What a run checks around its batches, as the run sees it: the [`Checks`] trait. The
//! reconciliation stage implements it (`reconcile::BatchReconciler`); the CLI hands that
//! to [`super::run::execute`], so execution never reaches forward into reconciliation.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::engine::Engine;
use crate::plan::Batch;
use crate::render::BatchStatements;
use crate::state::ObjectVersion;
use crate::Error;

/// What the checks found about one committed batch.
#[derive(Debug, Clone, Default)]
pub struct Checked<O> {
    /// Recorded in the batch's checkpoint, flat among its fields.
    pub outcome: O,
    /// The base files of the batch's partitions as they were read (publish compares
    /// them with the base table when it publishes).
    pub base_files: Vec<ObjectVersion>,
    /// One line per failed gate (`name: detail`); empty when the batch passed.
    pub failures: Vec<String>,
}

/// The checks of a run: before the first batch, after each batch's commit, and once
/// every batch is done. Each may stop the run with an error.
#[async_trait]
pub trait Checks: Send + Sync + 'static {
    /// What a batch's checkpoint records about its checks.
    type Outcome: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static;

    /// Before the first batch this run executes (`first`): e.g. plan the checks'
    /// statements and make sure they return what is read from them.
    ///
    /// Errors: anything that must stop the run before it writes (exit 2 for a statement
    /// that lacks a column).
    async fn before_batches(&self, engine: &dyn Engine, first: &BatchStatements) -> Result<(), Error>;

    /// After `batch` is committed into the shadow: compare it with the base.
    ///
    /// Errors: engine, store and timeout errors (a failed gate is not an error: it is
    /// a [`Checked::failures`] line).
    async fn check_batch(
        &self,
        engine: &dyn Engine,
        batch: &Batch,
        statements: &BatchStatements,
    ) -> Result<Checked<Self::Outcome>, Error>;

    /// Once every batch of the plan is done.
    ///
    /// Errors: [`Error::Gate`] (exit 1) when the whole range fails a gate; engine errors.
    async fn after_batches(&self, engine: &dyn Engine) -> Result<(), Error>;
}
