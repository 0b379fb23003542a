//! What a run reports as it goes ([`Progress`]); the CLI draws it as a progress bar.

use std::time::Duration;

use crate::plan::Batch;
use crate::state::{BatchState, Checkpoint};

/// A batch that finished, as progress reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Batch number.
    pub batch: u32,
    /// Done or failed.
    pub state: BatchState,
    /// Attempts so far, this one included.
    pub attempt: u32,
    /// Partitions in the batch.
    pub partitions: usize,
    /// Rows committed into the shadow.
    pub rows_written: u64,
    /// Bytes the write read.
    pub bytes_scanned: u64,
}

impl Finished {
    /// The figures of `c`.
    pub fn of<O>(c: &Checkpoint<O>) -> Self {
        Self {
            batch: c.batch,
            state: c.state,
            attempt: c.attempt,
            partitions: c.partitions.len(),
            rows_written: c.rows_written,
            bytes_scanned: c.bytes_scanned,
        }
    }
}

/// What a run reports as it goes.
pub trait Progress: Send + Sync {
    /// A batch is about to run.
    fn batch_started(&self, _batch: &Batch) {}
    /// A batch finished (done or failed).
    fn batch_finished(&self, _batch: &Finished, _elapsed: Duration) {}
    /// The run waits, and why.
    fn waiting(&self, _why: &str) {}
}

/// Progress that reports nothing.
pub struct Silent;
impl Progress for Silent {}
