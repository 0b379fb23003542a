//! What each rendered statement does ([`Step`]) and one rendered statement ([`Statement`]).

use serde::Serialize;

/// What a statement does, in execution order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Define the consumer view as it is (its catalog body, or `SELECT * FROM <base>` when
    /// the catalog has none yet, then committed). Always rendered, so the fingerprint does
    /// not change once the view exists.
    PrepareView,
    /// Declare the shadow table.
    CreateShadow,
    /// Evaluate the transform for one batch, cast to the base schema (the dry run runs
    /// this in memory; [`Step::WriteBatch`] writes its result).
    EvaluateBatch,
    /// Run the transform for one batch into its staging prefix.
    WriteBatch,
    /// Structural and aggregate, per partition: rows and each metric, base vs shadow;
    /// NULLs of `not_null` columns in the shadow.
    ReconcilePartitions,
    /// Structural: duplicate (partition key, keys) in the shadow.
    ReconcileUniqueKeys,
    /// Row-level: unchanged, changed, added and removed rows per partition.
    ReconcileRows,
    /// Row-level: the largest changes.
    ReconcileTopChanges,
    /// Row-level: a sample of unchanged, added and removed rows.
    ReconcileSamples,
    /// Aggregate, once every batch is done: each metric by one query over the whole
    /// range of the base and of the shadow.
    ReconcileRange,
    /// Dry run over a sample: each metric over the sampled partitions and over bootstrap
    /// resamples of them (not part of the executed plan).
    EstimateMetrics,
    /// Publish: redefine the consumer view in one catalog commit.
    ViewSwap,
    /// Rollback: restore the consumer view's body from before the publish.
    Rollback,
}

impl Step {
    /// The template that renders this step.
    pub fn template(self) -> &'static str {
        match self {
            Step::PrepareView => "prepare_view",
            Step::CreateShadow => "create_shadow",
            Step::EvaluateBatch => "evaluate_batch",
            Step::WriteBatch => "write_batch",
            Step::ReconcilePartitions => "reconcile_partitions",
            Step::ReconcileUniqueKeys => "reconcile_unique_keys",
            Step::ReconcileRows => "reconcile_rows",
            Step::ReconcileTopChanges => "reconcile_top_changes",
            Step::ReconcileSamples => "reconcile_samples",
            Step::ReconcileRange => "reconcile_range",
            Step::EstimateMetrics => "estimate_metrics",
            Step::ViewSwap => "view_swap",
            Step::Rollback => "rollback",
        }
    }

    /// The step's name, as in JSON output and `--out` file names: `write_batch`.
    pub fn name(self) -> &'static str {
        self.template()
    }

    /// [`Step::describe`] for a plan in `dialect`: a warehouse dialect's scripts write
    /// the shadow directly and record their releases themselves.
    pub fn describe_in(self, dialect: crate::sql::Dialect) -> &'static str {
        if dialect == crate::sql::Dialect::DataFusion {
            return self.describe();
        }
        match self {
            Step::WriteBatch => "overwrite the batch's partitions of the shadow with the transform's rows",
            Step::ViewSwap => "publish: swap the consumer view and record the release in governance.data_releases",
            Step::Rollback => {
                "restore the consumer view's previous body and record the rollback in governance.data_releases"
            }
            other => other.describe(),
        }
    }

    /// One line saying what the step does, for plan comments.
    pub fn describe(self) -> &'static str {
        match self {
            Step::PrepareView => {
                "define the consumer view as it is: its catalog body, or the base table when it has none \
                 (then its own catalog commit)"
            }
            Step::CreateShadow => "declare the shadow table",
            Step::EvaluateBatch => "evaluate the batch's corrected rows in memory (dry run)",
            Step::WriteBatch => "write the batch's corrected partitions to its staging prefix",
            Step::ReconcilePartitions => "reconcile, structural and aggregate: rows, metrics and NULLs per partition",
            Step::ReconcileUniqueKeys => "reconcile, structural: duplicate keys in the shadow",
            Step::ReconcileRows => "reconcile, row-level: unchanged / changed / added / removed",
            Step::ReconcileTopChanges => "reconcile, row-level: largest changes",
            Step::ReconcileSamples => "reconcile, row-level: sample of unchanged, added and removed rows",
            Step::ReconcileRange => {
                "reconcile, aggregate, once every batch is done: \
                 each metric over the whole range, base vs shadow"
            }
            Step::EstimateMetrics => "dry run: each metric over a sample of partitions and its bootstrap resamples",
            Step::ViewSwap => "publish: swap the consumer view (one atomic catalog commit)",
            Step::Rollback => "restore the consumer view's previous body",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One rendered statement.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    /// 1-based position in execution order.
    pub index: usize,
    /// What it does.
    pub step: Step,
    /// The batch it belongs to, if any.
    pub batch: Option<u32>,
    /// The SQL, exactly as it will run.
    pub sql: String,
}

/// `statements` in runs of one step of one batch, in order: a warehouse dialect's step may
/// be several statements (BEGIN; DELETE; INSERT; COMMIT) that are shown and written together.
pub fn by_step<'a>(statements: impl IntoIterator<Item = &'a Statement>) -> Vec<Vec<&'a Statement>> {
    let mut runs: Vec<Vec<&Statement>> = Vec::new();
    for s in statements {
        match runs.last_mut() {
            Some(run) if run[0].step == s.step && run[0].batch == s.batch => run.push(s),
            _ => runs.push(vec![s]),
        }
    }
    runs
}
