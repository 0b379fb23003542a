//! `--engine ballista`: the run's statements on Apache Ballista 55 — a cluster reached
//! through `--scheduler df://HOST:PORT`, or without it one started in this process
//! (standalone: a scheduler and an executor on loopback ports the system picks, sharing
//! this process's object stores).
//!
//! The client keeps the session: the catalog, the tables and the views resolve here, and
//! every query's logical plan goes to the scheduler, which plans it physically and has
//! executors run it. The batch write (`COPY … TO … PARTITIONED BY`) runs on the
//! executors too, which write the staged files straight into the warehouse; the commit
//! that moves them into the shadow, the lease, checkpoints, gates, publish and the ledger
//! stay backfill's own, on the client. Reconciliation runs on the cluster as well, over
//! the batch's partitions of the base and the shadow (its statements filter on them),
//! instead of over copies held in memory.
//!
//! Our partition-pruned table provider crosses the wire through [`codec::BackfillCodec`].
//! [`cluster`] runs a scheduler or an executor that reaches the warehouse (`backfill
//! cluster …`).

pub mod cluster;
pub mod codec;

use std::sync::Arc;

use ::ballista::prelude::{SessionConfigExt, SessionContextExt};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;

use super::engine::{DataFusionEngine, Engine, Executed, MemoryTable, Output};
use crate::error::engine;
use crate::render::Statement;
use crate::spec::TableName;
use crate::Error;

/// Tasks the standalone executor runs at once. A slot is not a thread: a backfill's
/// tasks are small and mostly wait (on the object store, on shuffle reads), so with one
/// slot per core a batch's five reconciliation statements queued behind each other
/// (the sample's 78 batches took 4 minutes with 2 slots, under 1 with 16).
pub const STANDALONE_TASK_SLOTS: usize = 16;

/// The environment variable that names a running scheduler, as `--scheduler` does.
pub const SCHEDULER_ENV: &str = "BACKFILL_BALLISTA_SCHEDULER";

/// `ctx`'s session (its tables, views and object stores) with its queries planned by a
/// Ballista scheduler: the one at `scheduler` (`df://HOST:PORT`; the scheme is not
/// checked, the port defaults to 50050), else a standalone cluster started in this
/// process.
///
/// Errors: [`Error::Engine`] (exit 3) when the scheduler cannot be reached or the
/// standalone cluster does not start.
pub async fn connect(ctx: &SessionContext, scheduler: Option<&str>) -> Result<SessionContext, Error> {
    let state = ctx.state();
    // The catalog list is shared with `ctx`: a config that asks for a default catalog
    // would replace ours in it (with no tables) on every rebuild of the state.
    let mut config = state
        .config()
        .clone()
        .with_create_default_catalog_and_schema(false)
        .with_ballista_logical_extension_codec(Arc::new(codec::BackfillCodec::default()))
        .with_ballista_standalone_parallelism(STANDALONE_TASK_SLOTS)
        // Ballista 55's adaptive planner (on by default) left a reconciliation job of the
        // TPC-H run submitted and never finished, with no error; the static planner does not.
        .with_ballista_adaptive_query_planner(false);
    // Ballista 55's adaptive planner swaps hash-join inputs after DataFusion has given the
    // join a dynamic filter, which fails the task (and the job never ends): no dynamic
    // filters. They only skip rows early; results are the same without them.
    let optimizer = &mut config.options_mut().optimizer;
    // Ballista's own setting, which its scheduler would otherwise enforce with a warning per job.
    optimizer.enable_round_robin_repartition = false;
    optimizer.enable_dynamic_filter_pushdown = false;
    optimizer.enable_join_dynamic_filter_pushdown = false;
    optimizer.enable_topk_dynamic_filter_pushdown = false;
    optimizer.enable_aggregate_dynamic_filter_pushdown = false;
    // The scheduler plans in (a clone of) this state, listing the files of what each
    // statement reads. No cached listings: with two batches in flight, one batch's listing of
    // the shadow could start before the other's commit and be cached after it, and that
    // batch's reconciliation would then miss its own files (seen on TPC-H: a partition read
    // as 0 rows). The memory pool and object stores stay the session's.
    let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
        .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0))
        .build_arc()
        .map_err(engine)?;
    let state = SessionStateBuilder::new_from_existing(state).with_config(config).with_runtime_env(runtime).build();
    let connected = match scheduler {
        Some(url) => match reachable(url).await {
            Ok(()) => SessionContext::remote_with_state(url, state).await,
            Err(e) => Err(e),
        },
        None => SessionContext::standalone_with_state(state).await,
    };
    connected.map_err(|e| match scheduler {
        Some(url) => Error::Engine(Box::new(datafusion::error::DataFusionError::Context(
            format!(
                "cannot reach the Ballista scheduler at {url}\n  fix: start one (`backfill cluster scheduler`), \
                 or leave out --scheduler and {SCHEDULER_ENV} for a standalone cluster in this process"
            ),
            Box::new(e),
        ))),
        None => engine(e),
    })
}

/// Connect to the scheduler at `url` once, so that an unreachable one is an error before
/// anything runs (Ballista itself connects at the first query). The port defaults to
/// 50050, as Ballista's.
async fn reachable(url: &str) -> datafusion::error::Result<()> {
    use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
    let parsed = url::Url::parse(url).map_err(|e| datafusion::error::DataFusionError::Configuration(e.to_string()))?;
    let host = parsed.host_str().unwrap_or_default();
    let endpoint = format!("http://{host}:{}", parsed.port().unwrap_or(50050));
    SchedulerGrpcClient::connect(endpoint)
        .await
        .map(drop)
        .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
}

/// The run's engine on Ballista: statements run as [`DataFusionEngine`] runs them, over
/// a session from [`connect`], so they are saved and recorded alike.
#[derive(Clone)]
pub struct BallistaEngine {
    inner: DataFusionEngine,
    /// The session [`connect`] was given. Its warehouse schemas list a table, and infer its
    /// schema, in this session's state the first time a statement reads it, so it lives as
    /// long as the engine.
    _origin: SessionContext,
}

impl BallistaEngine {
    /// An engine over `inner`, whose session came from [`connect`]`(origin, …)`.
    pub fn new(inner: DataFusionEngine, origin: SessionContext) -> Self {
        Self { inner, _origin: origin }
    }
}

#[async_trait]
impl Engine for BallistaEngine {
    async fn run(&self, s: &Statement) -> Result<Output, Error> {
        self.inner.run(s).await
    }

    async fn columns(&self, s: &Statement) -> Result<Vec<String>, Error> {
        self.inner.columns(s).await
    }

    async fn schema(&self, table: &TableName) -> Result<SchemaRef, Error> {
        self.inner.schema(table).await
    }

    async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>, datafusion::error::DataFusionError> {
        self.inner.query(sql).await
    }

    async fn query_schema(&self, sql: &str) -> Result<SchemaRef, datafusion::error::DataFusionError> {
        self.inner.query_schema(sql).await
    }

    /// This engine itself: in-memory tables cannot travel to executors, and the batch's
    /// statements filter on its partitions, so the cluster reads them from the files.
    fn over_tables(&self, _tables: Vec<MemoryTable>) -> Result<Arc<dyn Engine>, Error> {
        Ok(Arc::new(self.clone()))
    }

    fn reconciles_in_memory(&self) -> bool {
        false
    }

    fn refresh(&self, table: &TableName) {
        self.inner.refresh(table)
    }

    fn executed(&self) -> Vec<Executed> {
        self.inner.executed()
    }
}
