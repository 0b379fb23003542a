//! Run progress: an indicatif bar when stderr is a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use backfill::execute::progress::{Finished, Progress};
use backfill::plan::Batch;
use backfill::state::BatchState;

use super::common::bytes;
use backfill::number::count;

/// Reports batches as they finish.
pub struct Reporter {
    bar: Option<ProgressBar>,
    total: u64,
}

impl Reporter {
    /// A reporter for `total` batches, of which `done` are already done.
    pub fn new(total: u64, done: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{spinner} batches {pos}/{len} [{bar:30}] {msg} · {per_sec} · ETA {eta}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(done);
            bar
        });
        Self { bar, total }
    }

    /// Finish the bar, if any.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Reporter {
    fn batch_started(&self, batch: &Batch) {
        tracing::debug!(batch = batch.number, partitions = batch.partitions.len(), "batch started");
    }

    fn batch_finished(&self, c: &Finished, elapsed: Duration) {
        let state = match c.state {
            BatchState::Done => "done",
            BatchState::Failed => "FAILED",
        };
        let line = format!(
            "batch {}/{} {state}: {} partitions, {} rows, {} read, {:.1?} (attempt {})",
            c.batch,
            self.total,
            c.partitions,
            count(c.rows_written),
            bytes(c.bytes_scanned),
            elapsed,
            c.attempt
        );
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.set_message(format!("{} rows in batch {}", count(c.rows_written), c.batch));
                if c.state == BatchState::Failed {
                    bar.println(line);
                }
            }
            None => eprintln!("{line}"),
        }
    }

    fn waiting(&self, why: &str) {
        match &self.bar {
            Some(bar) => bar.println(why),
            None => eprintln!("{why}"),
        }
        tracing::info!("{why}");
    }
}
