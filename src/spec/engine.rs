//! `execution.engine`: which SQL engine runs a backfill's statements.

use serde::{Deserialize, Serialize};

/// The engine that runs the transform, the batch writes and the reconciliation
/// (`execution.engine`, or the global `--engine` flag, which wins). The lease,
/// checkpoints, gates, publish and the ledger are backfill's own whichever it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// DataFusion embedded in this process (the default).
    #[default]
    #[value(name = "datafusion")]
    DataFusion,
    /// Apache Ballista 55: a cluster given by `--scheduler`, else one started in this
    /// process (standalone).
    Ballista,
}

impl EngineKind {
    /// The spelling in specs and on the command line: `datafusion`, `ballista`.
    pub fn name(self) -> &'static str {
        match self {
            Self::DataFusion => "datafusion",
            Self::Ballista => "ballista",
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
