//! The engine seam: everything a run, its checks and publish ask of the SQL engine goes
//! through the [`Engine`] trait, so that another engine (Ballista) plugs in without
//! touching batching, gates or publish. [`DataFusionEngine`] is the embedded one.
//!
//! An engine runs rendered [`Statement`]s exactly as rendered. Before a statement runs it
//! is saved under `_backfills/<id>/sql/` (when the engine has a backfill folder) and
//! recorded in the engine's executed list, which is also logged (target
//! `backfill::engine`, `executed statement`).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::TableReference;
use datafusion::physical_plan::{collect, ExecutionPlan};
use datafusion::prelude::SessionContext;
use object_store::ObjectStoreExt;
use object_store::PutPayload;
use sha2::{Digest, Sha256};

use super::session;
use crate::error::{engine, store_err};
use crate::render::{Statement, Step};
use crate::spec::TableName;
use crate::state::BackfillDir;
use crate::warehouse::Warehouse;
use crate::Error;

/// What a statement returned.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Its result rows (for a write: one row with the count of rows written).
    pub batches: Vec<RecordBatch>,
    /// Bytes the engine read from files while running it.
    pub bytes_scanned: u64,
}

/// One statement an engine ran: its place in the plan and a sha256 of its SQL (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// The statement's index in the plan (0 for statements outside an executed plan).
    pub index: usize,
    /// Its step.
    pub step: Step,
    /// Its batch, if any.
    pub batch: Option<u32>,
    /// Hex sha256 of the SQL as run.
    pub sql_sha256: String,
}

pub use super::session::MemoryTable;

/// The SQL engine, as the run, its checks and publish see it.
#[async_trait]
pub trait Engine: Send + Sync {
    /// Save and record `s`, then run it to completion under the engine's time limit.
    ///
    /// Errors: [`Error::Timeout`] (exit 3) past the limit; engine and store errors.
    async fn run(&self, s: &Statement) -> Result<Output, Error>;

    /// Plan `s` without running it; the names of its result columns.
    ///
    /// Errors: engine errors when it does not plan.
    async fn columns(&self, s: &Statement) -> Result<Vec<String>, Error>;

    /// The schema of `table` as the engine has it registered.
    ///
    /// Errors: an unknown table (engine error).
    async fn schema(&self, table: &TableName) -> Result<SchemaRef, Error>;

    /// Run an ad-hoc query that is not a statement of the plan (a check of the
    /// transform's output); it is neither saved nor recorded.
    ///
    /// Errors: engine errors.
    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, datafusion::error::DataFusionError>;

    /// Plan an ad-hoc query without running it; its result schema.
    ///
    /// Errors: engine errors when it does not plan.
    async fn query_schema(&self, sql: &str) -> Result<SchemaRef, datafusion::error::DataFusionError>;

    /// An engine of the same kind over `tables` held in memory (one batch's partitions of
    /// the base and of the shadow), sharing this engine's executed list and folder.
    ///
    /// Errors: schemas that cannot form tables.
    fn over_tables(&self, tables: Vec<MemoryTable>) -> Result<Arc<dyn Engine>, Error>;

    /// Whether a batch's checks should read its partitions into memory for
    /// [`Engine::over_tables`] (true), or the engine reads them from the files itself
    /// (false: `over_tables` is then given the tables without rows).
    fn reconciles_in_memory(&self) -> bool {
        true
    }

    /// Forget what the engine cached about `table`'s files (after a commit into it).
    fn refresh(&self, table: &TableName);

    /// Every statement run so far, in the order they began.
    fn executed(&self) -> Vec<Executed>;
}

/// The embedded DataFusion engine.
#[derive(Clone)]
pub struct DataFusionEngine {
    ctx: SessionContext,
    wh: Warehouse,
    dir: Option<BackfillDir>,
    limit: Duration,
    log: Arc<Mutex<Vec<Executed>>>,
}

impl DataFusionEngine {
    /// An engine over `ctx` (see [`session::open`]). Statements are saved under `dir`
    /// when given, and each may run for `limit`.
    pub fn new(ctx: SessionContext, wh: &Warehouse, dir: Option<BackfillDir>, limit: Duration) -> Self {
        Self { ctx, wh: wh.clone(), dir, limit, log: Arc::default() }
    }

    /// The session, for work that is DataFusion's own (registering a view definition).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    async fn record(&self, s: &Statement) -> Result<(), Error> {
        let sql_sha256 = hex::encode(Sha256::digest(s.sql.as_bytes()));
        tracing::info!(
            target: "backfill::engine",
            index = s.index,
            step = %s.step,
            batch = s.batch,
            sql_sha256 = %sql_sha256,
            "executed statement"
        );
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push(Executed {
            index: s.index,
            step: s.step,
            batch: s.batch,
            sql_sha256,
        });
        if let Some(dir) = &self.dir {
            let text =
                format!("-- {}{}\n{};\n", s.step, s.batch.map(|b| format!(" batch {b}")).unwrap_or_default(), s.sql);
            let path = dir.sql(s.index, s.step.name());
            self.wh
                .store()
                .put(&path, PutPayload::from(text.into_bytes()))
                .await
                .map_err(|e| store_err(&self.wh, e))?;
        }
        Ok(())
    }
}

/// Sum of the `bytes_scanned` metric over an executed plan.
fn bytes_scanned(plan: &Arc<dyn ExecutionPlan>) -> u64 {
    let own = plan.metrics().and_then(|m| m.sum_by_name("bytes_scanned")).map_or(0, |v| v.as_usize() as u64);
    own + plan.children().iter().map(|c| bytes_scanned(c)).sum::<u64>()
}

#[async_trait]
impl Engine for DataFusionEngine {
    async fn run(&self, s: &Statement) -> Result<Output, Error> {
        self.record(s).await?;
        let t0 = Instant::now();
        let work = async {
            let df = self.ctx.sql(&s.sql).await.map_err(engine)?;
            let physical = df.create_physical_plan().await.map_err(engine)?;
            let planned = t0.elapsed().as_millis() as u64;
            let batches = collect(physical.clone(), self.ctx.task_ctx()).await.map_err(engine)?;
            let ms = t0.elapsed().as_millis() as u64;
            tracing::debug!(step = %s.step, batch = s.batch.unwrap_or_default(), planned_ms = planned, ms, "statement");
            Ok::<_, Error>(Output { batches, bytes_scanned: bytes_scanned(&physical) })
        };
        // `query_timeout` bounds the statements of batches and of the whole range; the
        // plan's setup and release statements (views, the shadow's declaration) only
        // define things and are not timed.
        let timed = s.batch.is_some() || s.step == Step::ReconcileRange;
        if !timed {
            return work.await;
        }
        match tokio::time::timeout(self.limit, work).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout(format!(
                "{} of batch {} ran longer than execution.query_timeout ({}); \
                 the batch is not done and the run stopped\n  \
                 fix: raise query_timeout or make batches smaller, then rerun",
                s.step,
                s.batch.unwrap_or_default(),
                humantime::format_duration(self.limit)
            ))),
        }
    }

    async fn columns(&self, s: &Statement) -> Result<Vec<String>, Error> {
        let df = self.ctx.sql(&s.sql).await.map_err(engine)?;
        Ok(df.schema().fields().iter().map(|f| f.name().clone()).collect())
    }

    async fn schema(&self, table: &TableName) -> Result<SchemaRef, Error> {
        let reference = TableReference::partial(table.schema.as_str(), table.table.as_str());
        Ok(self.ctx.table(reference).await.map_err(engine)?.schema().inner().clone())
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, datafusion::error::DataFusionError> {
        self.ctx.sql(sql).await?.collect().await
    }

    async fn query_schema(&self, sql: &str) -> Result<SchemaRef, datafusion::error::DataFusionError> {
        Ok(self.ctx.sql(sql).await?.schema().inner().clone())
    }

    fn over_tables(&self, tables: Vec<MemoryTable>) -> Result<Arc<dyn Engine>, Error> {
        let ctx = session::in_memory(tables)?;
        Ok(Arc::new(Self {
            ctx,
            wh: self.wh.clone(),
            dir: self.dir.clone(),
            limit: self.limit,
            log: Arc::clone(&self.log),
        }))
    }

    fn refresh(&self, table: &TableName) {
        session::forget_listing(&self.ctx, table);
    }

    fn executed(&self) -> Vec<Executed> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The outcome of a finished task: its own result, a panic passed on, or a cancellation
/// as an engine error.
pub fn joined<T>(outcome: Result<Result<T, Error>, tokio::task::JoinError>) -> Result<T, Error> {
    match outcome {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Engine(Box::new(datafusion::error::DataFusionError::External(Box::new(e))))),
    }
}
