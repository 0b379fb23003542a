//! [`BatchReconciler`]: the run's checks (`execute::checks::Checks`). Before the first
//! batch it plans every reconciliation statement and checks their columns; after each
//! commit it reads the batch's partitions of base and shadow once, runs the batch's
//! statements over them in memory, and gates the result; when every batch is done it
//! runs `reconcile_range` and keeps the result in `range.json`.

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::Utc;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::{gates, read, schema_differences, Gate, RangeReconciliation, Reconciliation};
use crate::execute::checks::{Checked, Checks};
use crate::execute::engine::{joined, Engine};
use crate::plan::{Batch, Plan};
use crate::render::{BatchStatements, RenderedPlan};
use crate::spec::TableName;
use crate::state::{self, BackfillDir, ObjectVersion};
use crate::warehouse::Warehouse;
use crate::Error;

/// Partitions read at once when a batch's two sides are loaded.
const READ_CONCURRENCY: usize = 8;

/// What a batch's checkpoint records about its reconciliation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// What reconciling its partitions found.
    pub reconciliation: Reconciliation,
    /// Every gate's verdict on it.
    pub gates: Vec<Gate>,
}

/// A checkpoint of one of backfill's runs, `_backfills/<id>/batches/NNNN.json`.
pub type Checkpoint = state::Checkpoint<BatchOutcome>;

/// One side of a batch, read into memory.
struct Loaded {
    schema: SchemaRef,
    rows: Vec<RecordBatch>,
    files: Vec<ObjectVersion>,
}

/// Reconciliation as a run's checks. See the module documentation.
pub struct BatchReconciler {
    plan: Arc<Plan>,
    rendered: Arc<RenderedPlan>,
    wh: Warehouse,
    /// Base vs shadow columns as registered: the same for every batch.
    schema_differences: OnceLock<Vec<String>>,
    range: Mutex<Option<RangeReconciliation>>,
}

impl BatchReconciler {
    /// The checks of a run of `plan` as `rendered`, over `wh`.
    pub fn new(plan: &Plan, rendered: &RenderedPlan, wh: &Warehouse) -> Self {
        Self {
            plan: Arc::new(plan.clone()),
            rendered: Arc::new(rendered.clone()),
            wh: wh.clone(),
            schema_differences: OnceLock::new(),
            range: Mutex::new(None),
        }
    }

    /// The whole range's reconciliation, once the run computed it.
    pub fn range(&self) -> Option<RangeReconciliation> {
        self.range.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The batch's partitions of `table`, read once, straight from each partition
    /// folder's files (see [`crate::warehouse::read_partition`]): no query is planned and
    /// no cached listing is used, so files another batch has just committed cannot be missed.
    /// Without `rows`, only the folders' files are listed (an engine that reads them itself).
    async fn load(&self, engine: &dyn Engine, table: &TableName, batch: &Batch, rows: bool) -> Result<Loaded, Error> {
        let key = &self.plan.spec.target.partition_key;
        let schema = engine.schema(table).await?;
        let parts: Vec<_> = futures::stream::iter(batch.partitions.clone())
            .map(|day| {
                let (wh, table, key, schema) = (self.wh.clone(), table.clone(), key.clone(), Arc::clone(&schema));
                async move {
                    let day = day.to_string();
                    match rows {
                        true => crate::warehouse::read_partition(&wh, &table, &key, &day, &schema).await,
                        false => crate::warehouse::partition_files(&wh, &table, &key, &day).await,
                    }
                }
            })
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut loaded = Loaded { schema, rows: Vec::new(), files: Vec::new() };
        for part in parts {
            loaded.files.extend(part.files.into_iter().map(|f| ObjectVersion {
                path: f.path,
                size: f.size,
                e_tag: f.e_tag,
                version: f.version,
            }));
            loaded.rows.extend(part.rows);
        }
        loaded.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(loaded)
    }
}

#[async_trait]
impl Checks for BatchReconciler {
    type Outcome = BatchOutcome;

    async fn before_batches(&self, engine: &dyn Engine, first: &BatchStatements) -> Result<(), Error> {
        let spec = &self.plan.spec;
        for s in first.reconcile.iter().chain([&self.rendered.reconcile_range]) {
            read::check_columns(spec, s.step, &engine.columns(s).await?)?;
        }
        let (base, shadow) = (engine.schema(&spec.target.table).await?, engine.schema(&spec.target.shadow).await?);
        let _ = self.schema_differences.set(schema_differences(&base, &shadow));
        Ok(())
    }

    async fn check_batch(
        &self,
        engine: &dyn Engine,
        batch: &Batch,
        statements: &BatchStatements,
    ) -> Result<Checked<BatchOutcome>, Error> {
        let spec = &self.plan.spec;
        let rows = engine.reconciles_in_memory();
        let base = self.load(engine, &spec.target.table, batch, rows).await?;
        let shadow = self.load(engine, &spec.target.shadow, batch, rows).await?;
        let base_files = base.files;
        let local = engine.over_tables(vec![
            (spec.target.table.clone(), base.schema, base.rows),
            (spec.target.shadow.clone(), shadow.schema, shadow.rows),
        ])?;
        let mut reconciliation = super::reconcile(spec, &statements.reconcile, |s| {
            // Each statement is its own task, so that a batch's statements plan on separate
            // cores; when one fails the others are dropped, and the guard stops their tasks.
            let (local, s) = (Arc::clone(&local), s.clone());
            let task = tokio::spawn(async move { local.run(&s).await.map(|o| o.batches) });
            let guard = scopeguard::guard(task.abort_handle(), |h| h.abort());
            async move {
                let outcome = joined(task.await);
                drop(guard);
                outcome
            }
        })
        .await?;
        reconciliation.schema_differences = self.schema_differences.get().cloned().unwrap_or_default();
        let gates = gates::check_batch(spec, &reconciliation, &format!("batch {}", batch.number));
        let failures = gates.iter().filter(|g| !g.passed()).map(|g| format!("{}: {}", g.name, g.detail)).collect();
        Ok(Checked { outcome: BatchOutcome { reconciliation, gates }, base_files, failures })
    }

    async fn after_batches(&self, engine: &dyn Engine) -> Result<(), Error> {
        let (plan, rendered) = (&self.plan, &self.rendered);
        let output = engine.run(&rendered.reconcile_range).await?;
        let range = RangeReconciliation::from_result(
            &plan.spec,
            &output.batches,
            &rendered.fingerprint,
            plan.partitions.len() as u64,
            Utc::now(),
        )?;
        state::write_json(&self.wh, &BackfillDir::new(&plan.spec.backfill_id).range(), &range).await?;
        let failed: Vec<String> = range.failed().iter().map(|g| format!("{}: {}", g.name, g.detail)).collect();
        *self.range.lock().unwrap_or_else(|p| p.into_inner()) = Some(range);
        if !failed.is_empty() {
            return Err(Error::Gate(format!(
                "every batch is done, but the whole range failed its gates: {}; nothing can be published\n  \
                 fix: correct the transform or the expected range, then rerun with --restart",
                failed.join("; ")
            )));
        }
        Ok(())
    }
}
