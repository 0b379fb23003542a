//! Stage 4: execution in DataFusion. [`session`] opens the engine over the warehouse;
//! [`dry_run`] evaluates a sample of partitions in memory and compares them with the
//! base without writing anything; [`output`] checks that a transform's result fits the
//! base table; [`run`] writes the shadow batch by batch (`run --execute`), keeping its
//! checkpoints and lease in [`state`]. [`pruning`] makes a scan of a few partitions of a
//! large table cheap to plan.

mod batch;
pub mod dry_run;
pub mod output;
pub mod pruning;
pub mod run;
pub mod session;
pub mod state;
mod table;

pub use table::Table;
