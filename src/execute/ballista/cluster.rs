//! A Ballista scheduler or executor that reaches the warehouse: the stock
//! `ballista-scheduler` and `ballista-executor` binaries know local files and S3 only,
//! not the `bf://warehouse/` URL every rendered statement uses, so `backfill cluster
//! scheduler` and `backfill cluster executor` run the same crates with the warehouse's
//! object store registered in every session (a local folder, or S3 configured by the
//! same `AWS_*` variables on every node as on the client).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use url::Url;

use super::codec::BackfillCodec;
use crate::render::WAREHOUSE_URL;
use crate::warehouse::Warehouse;
use crate::Error;

/// A runtime with `wh`'s store at `bf://warehouse/` and no cached file listings (a
/// listing kept across jobs would hide the files a batch has just committed).
///
/// Errors: DataFusion's, building the runtime.
fn runtime(wh: &Warehouse) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let runtime = RuntimeEnvBuilder::new()
        .with_cache_manager(CacheManagerConfig::default().with_list_files_cache_limit(0))
        .build_arc()?;
    runtime.register_object_store(&Url::parse(WAREHOUSE_URL).expect("constant URL"), wh.store().clone());
    Ok(runtime)
}

fn ballista_error(context: &str, e: impl std::fmt::Display) -> Error {
    Error::Engine(Box::new(datafusion::error::DataFusionError::Execution(format!("{context}: {e}"))))
}

/// Run a scheduler on `bind` until the process ends. Each session it builds plans
/// over `wh` (listing files happens here) and decodes our table providers.
///
/// Errors: [`Error::Engine`] (exit 3) when it cannot bind or start.
pub async fn scheduler(wh: &Warehouse, bind: SocketAddr) -> Result<(), Error> {
    let wh = wh.clone();
    let builder = Arc::new(move |config| {
        let state = ballista_core::utils::default_session_builder(config)?;
        Ok(SessionStateBuilder::new_from_existing(state).with_runtime_env(runtime(&wh)?).build())
    });
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        external_host: bind.ip().to_string(),
        bind_port: bind.port(),
        ..SchedulerConfig::default()
    }
    .with_override_session_builder(builder);
    let config = SchedulerConfig { override_logical_codec: Some(Arc::new(BackfillCodec::default())), ..config };
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(|e| ballista_error("scheduler", e))?;
    start_server(cluster, bind, Arc::new(config)).await.map_err(|e| ballista_error("scheduler", e))
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Its Arrow Flight address (shuffle data and results); its gRPC port is `grpc_port`.
    pub bind: SocketAddr,
    /// Its gRPC port, on the same host.
    pub grpc_port: u16,
    /// The scheduler, `HOST:PORT`.
    pub scheduler: (String, u16),
    /// Tasks it runs at once.
    pub vcores: usize,
    /// Where it keeps shuffle files (default: a temporary folder).
    pub work_dir: Option<String>,
}

/// Run an executor until the process ends (or its scheduler stops it). Every session
/// it runs reaches `wh` (reads and the batch writes' staged files).
///
/// Errors: [`Error::Engine`] (exit 3) when it cannot bind or reach the scheduler.
pub async fn executor(wh: &Warehouse, opts: ExecutorOptions) -> Result<(), Error> {
    let wh = wh.clone();
    let config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        external_host: Some(opts.bind.ip().to_string()),
        port: opts.bind.port(),
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler.0,
        scheduler_port: opts.scheduler.1,
        scheduler_connect_timeout_seconds: 30,
        vcores: opts.vcores.max(1),
        work_dir: opts.work_dir,
        print_thread_info: false,
        override_runtime_producer: Some(Arc::new(move |_| runtime(&wh))),
        override_logical_codec: Some(Arc::new(BackfillCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|e| ballista_error("executor", e))
}
