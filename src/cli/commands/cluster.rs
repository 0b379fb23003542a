//! `backfill cluster scheduler|executor`: a node of a Ballista cluster for
//! `--engine ballista --scheduler df://HOST:PORT`.

use std::net::SocketAddr;
use std::path::PathBuf;

use backfill::execute::ballista::cluster::{self, ExecutorOptions};
use backfill::Error;

use crate::cli::common::{global_warehouse, Global};

/// Run a node of an Apache Ballista cluster that reaches the warehouse.
///
/// Runs until stopped. Start one scheduler and one or more executors, all with the
/// same --warehouse (or BACKFILL_WAREHOUSE) as the runs they serve, and on S3 the same
/// AWS_* variables; then `backfill run SPEC --execute --engine ballista --scheduler
/// df://HOST:PORT`. The stock ballista-scheduler and ballista-executor binaries cannot
/// serve backfill: they do not know the warehouse's object store.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    node: Node,
}

/// The node to run.
#[derive(Debug, clap::Subcommand)]
enum Node {
    /// A scheduler: plans every query (listing the warehouse's files) and hands its
    /// tasks to executors.
    Scheduler {
        /// Address to listen on (gRPC, for clients and executors).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
    },
    /// An executor: runs tasks, reading the warehouse and writing the batches' files.
    Executor {
        /// Address of its Arrow Flight service (results and shuffle data).
        #[arg(long, default_value = "127.0.0.1:50051")]
        bind: SocketAddr,
        /// Port of its gRPC service, on the same host.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Tasks run at once [default: one per core].
        #[arg(long)]
        vcores: Option<usize>,
        /// Folder for shuffle files [default: a temporary folder].
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

pub async fn run(args: Args, global: &Global) -> Result<(), Error> {
    let wh = global_warehouse(global)?;
    match args.node {
        Node::Scheduler { bind } => cluster::scheduler(&wh, bind).await,
        Node::Executor { bind, grpc_port, scheduler, vcores, work_dir } => {
            let (host, port) = scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                .ok_or_else(|| {
                    Error::Usage(format!("--scheduler {scheduler}: expected HOST:PORT, e.g. 127.0.0.1:50050"))
                })?;
            let opts = ExecutorOptions {
                bind,
                grpc_port,
                scheduler: (host, port),
                vcores: vcores.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                work_dir: work_dir.map(|p| p.display().to_string()),
            };
            cluster::executor(&wh, opts).await
        }
    }
}
