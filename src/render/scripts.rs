//! The plan as three scripts a team runs with its warehouse's own client
//! (`plan --dialect D --out DIR`): `run.sql` (the shadow, then each batch's partition
//! overwrite and its reconciliation queries, then the whole-range metrics),
//! `publish.sql` (the view swap and its ledger row) and `rollback.sql` (the view's
//! previous body and its ledger row). Every statement is parsed and round-tripped in the
//! dialect as it is rendered.

use serde::Serialize;

use super::{RenderError, RenderedPlan, Statement, StatementRenderer, Step, Templates};
use crate::plan::Plan;
use crate::sql::Dialect;

/// One script: its statements in the order the client runs them.
#[derive(Debug, Clone, Serialize)]
pub struct Script {
    /// `run.sql`, `publish.sql` or `rollback.sql`.
    pub file: &'static str,
    /// Comment lines at the top: what the script does and how to run it.
    pub preamble: Vec<String>,
    /// The statements, `index` counting across the three scripts.
    pub statements: Vec<Statement>,
}

/// The three scripts of a plan in one dialect.
#[derive(Debug, Clone, Serialize)]
pub struct Scripts {
    /// The dialect rendered.
    pub dialect: Dialect,
    /// Shadow, batches with their reconciliation, whole-range metrics.
    pub run: Script,
    /// View swap and ledger row.
    pub publish: Script,
    /// The view's previous body and ledger row.
    pub rollback: Script,
    /// Hex sha256 over the tool version, the dialect, the normalized spec and every
    /// statement of the three scripts (those that write a ledger row with a placeholder
    /// where the fingerprint goes).
    pub fingerprint: String,
}

impl Scripts {
    /// The three scripts, in the order they are run.
    pub fn all(&self) -> [&Script; 3] {
        [&self.run, &self.publish, &self.rollback]
    }

    /// Every statement of the three scripts, in order.
    pub fn statements(&self) -> impl Iterator<Item = &Statement> {
        self.all().into_iter().flat_map(|s| s.statements.iter())
    }
}

/// How each client runs a script from the top, stopping at the first error.
fn client(dialect: Dialect, file: &str) -> String {
    match dialect {
        Dialect::DataFusion => format!("not run by a client: `backfill` executes {file}'s statements itself"),
        Dialect::Postgres => format!("psql -v ON_ERROR_STOP=1 -f {file}"),
        Dialect::DuckDb => format!("duckdb -bail WAREHOUSE.duckdb < {file}"),
        Dialect::Spark => format!("spark-sql -f {file}"),
        Dialect::BigQuery => format!("bq query --use_legacy_sql=false < {file}"),
        Dialect::Snowflake => format!("snowsql -o exit_on_error=true -f {file}"),
    }
}

/// Render the three scripts of `plan` in `dialect`. For DataFusion they are the executed
/// plan's own statements ([`from_executed`]).
///
/// Errors: as [`super::render`], with every statement parsed in `dialect`; a transform
/// that does not parse in `dialect` is a spec error at its line and column.
pub fn render_scripts(plan: &Plan, templates: &Templates, dialect: Dialect) -> Result<Scripts, RenderError> {
    if dialect == Dialect::DataFusion {
        return Ok(from_executed(&super::render(plan, templates)?));
    }
    let mut r = StatementRenderer::new_in(plan, templates, &plan.spec.target.shadow, dialect)?;
    let mut index = 0;
    let mut run =
        numbered(&mut index, Step::CreateShadow, None, r.render_statements(Step::CreateShadow, None, r.shared())?);
    let steps = r.batch_steps();
    for batch in &plan.batches {
        let ctx = r.batch_context(batch)?;
        for step in &steps {
            let sqls = r.render_statements(*step, Some(batch), ctx.clone())?;
            run.extend(numbered(&mut index, *step, Some(batch.number), sqls));
        }
    }
    run.extend(numbered(
        &mut index,
        Step::ReconcileRange,
        None,
        r.render_statements(Step::ReconcileRange, None, r.shared())?,
    ));
    // The ledger rows carry the fingerprint, which covers them too: publish.sql and
    // rollback.sql are rendered once with a placeholder for it, hashed with run.sql, and
    // rendered again with the fingerprint.
    let ends = |r: &StatementRenderer| -> Result<(Vec<Statement>, Vec<Statement>), RenderError> {
        let mut at = index;
        let publish = numbered(&mut at, Step::ViewSwap, None, r.render_statements(Step::ViewSwap, None, r.shared())?);
        let rollback = numbered(&mut at, Step::Rollback, None, r.render_statements(Step::Rollback, None, r.shared())?);
        Ok((publish, rollback))
    };
    r.set_fingerprint(&"0".repeat(64));
    let (publish, rollback) = ends(&r)?;
    let fingerprint = super::fingerprint_of(dialect, plan, run.iter().chain(&publish).chain(&rollback));
    r.set_fingerprint(&fingerprint);
    let (publish, rollback) = ends(&r)?;
    let script = |file: &'static str, what: &str, statements| Script {
        file,
        preamble: vec![what.to_string(), format!("run: {}", client(dialect, file))],
        statements,
    };
    Ok(Scripts {
        dialect,
        run: script(
            "run.sql",
            "creates the shadow table, then per batch overwrites its partitions and prints its reconciliation; \
             run twice, it leaves the same shadow. Readers see no change until publish.sql",
            run,
        ),
        publish: script(
            "publish.sql",
            "points the consumer view at the shadow for the source range and records the release in \
             governance.data_releases. Run it once run.sql's reconciliation is approved",
            publish,
        ),
        rollback: script(
            "rollback.sql",
            "restores the consumer view's body from before publish.sql and records the rollback",
            rollback,
        ),
        fingerprint,
    })
}

/// `sqls` as statements of `step` (and `batch`), numbered on from `*index`.
fn numbered(index: &mut usize, step: Step, batch: Option<u32>, sqls: Vec<String>) -> Vec<Statement> {
    sqls.into_iter()
        .map(|sql| {
            *index += 1;
            Statement { index: *index, step, batch, sql }
        })
        .collect()
}

/// The DataFusion plan's statements as the three scripts. `backfill` runs them itself:
/// between a batch's COPY into its staging prefix and its reconciliation it moves the
/// staged files into the shadow's partitions, and it writes the catalog and the ledger
/// around the view swap; those steps are Rust, not SQL, and the preambles say so.
pub fn from_executed(rendered: &RenderedPlan) -> Scripts {
    let run: Vec<Statement> = rendered
        .statements()
        .filter(|s| !matches!(s.step, Step::PrepareView | Step::ViewSwap | Step::Rollback))
        .cloned()
        .collect();
    let dialect = Dialect::DataFusion;
    let script = |file: &'static str, what: &str, statements| Script {
        file,
        preamble: vec![what.to_string(), client(dialect, file)],
        statements,
    };
    Scripts {
        dialect,
        run: script(
            "run.sql",
            "`backfill run SPEC --execute`: after each batch's COPY, backfill moves the staged files into \
             the shadow's partitions (one commit per batch), then runs the batch's reconciliation",
            run,
        ),
        publish: script(
            "publish.sql",
            "`backfill publish SPEC`: the view swap, committed as one catalog version with its ledger row",
            vec![rendered.view_swap.clone()],
        ),
        rollback: script(
            "rollback.sql",
            "`backfill rollback SPEC`: the view's previous body, committed with its ledger row",
            vec![rendered.rollback.clone()],
        ),
        fingerprint: rendered.fingerprint.clone(),
    }
}

impl Script {
    /// The script as a file: its preamble as comments, then each statement under a
    /// comment naming its step (and batch), ended by `;`.
    pub fn text(&self, header: impl Fn(&Statement) -> String) -> String {
        let mut out: String = self.preamble.iter().map(|l| format!("-- {l}\n")).collect();
        for run in super::by_step(&self.statements) {
            out.push_str(&format!("\n{}\n", header(run[0])));
            for s in run {
                out.push_str(&format!("{};\n", s.sql));
            }
        }
        out
    }
}
