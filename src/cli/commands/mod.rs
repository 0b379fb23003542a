//! One file per subcommand; this module only dispatches.

mod cluster;
mod demo;
mod plan;
mod publish;
mod query;
mod releases;
mod report;
mod rollback;
mod run;
mod status;
mod validate;

use clap::Subcommand;

use super::common::Global;
use backfill::Error;

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    Validate(validate::Args),
    Plan(plan::Args),
    Run(run::Args),
    Status(status::Args),
    Report(report::Args),
    Publish(publish::Args),
    Rollback(rollback::Args),
    Releases(releases::Args),
    Query(query::Args),
    Demo(demo::Args),
    Cluster(cluster::Args),
}

/// Run one subcommand.
pub async fn run(command: Command, global: &Global) -> Result<(), Error> {
    match command {
        Command::Validate(args) => validate::run(args, global).await,
        Command::Plan(args) => plan::run(args, global).await,
        Command::Run(args) => run::run(args, global).await,
        Command::Status(args) => status::run(args, global).await,
        Command::Report(args) => report::run(args, global).await,
        Command::Publish(args) => publish::run(args, global).await,
        Command::Rollback(args) => rollback::run(args, global).await,
        Command::Releases(args) => releases::run(args, global).await,
        Command::Query(args) => query::run(args, global).await,
        Command::Demo(args) => demo::run(args, global).await,
        Command::Cluster(args) => cluster::run(args, global).await,
    }
}
