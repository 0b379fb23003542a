//! Stage 4: execution. [`session`] opens DataFusion over the warehouse; [`engine`] is
//! the seam every statement goes through ([`engine::Engine`], embedded
//! [`engine::DataFusionEngine`]); [`output`] checks that a transform's result fits the
//! base table; [`run`] writes the shadow batch by batch (`run --execute`, one batch:
//! `batch`), keeping checkpoints and the lease in [`crate::state`] and handing each
//! committed batch to the run's [`checks::Checks`], which the reconciliation stage
//! implements. [`pruning`] makes a scan of a few partitions of a large table cheap to plan.

pub mod ballista;
mod batch;
pub mod checks;
mod drift;
pub mod engine;
pub mod output;
pub mod progress;
pub mod pruning;
pub mod run;
pub mod session;
mod session_options;

pub use batch::LEASE_TTL_MINUTES;
