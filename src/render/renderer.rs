//! [`StatementRenderer`]: the template context of one plan (shared values, then per
//! batch the batch and its rendered transform) and the rendering of single steps.

use minijinja::{context, Environment, Value};

use super::{context, RenderError, Step, Templates};
use crate::plan::transform::{self, TransformTemplate};
use crate::plan::{Batch, Plan};
use crate::spec::TableName;
use crate::sql::{self, check_parses, Dialect, ParsedShapes};

/// Renders single steps of one plan; [`render`] uses it for the whole plan, the dry run
/// for its in-memory sample (with the shadow replaced by the sample's table name).
pub struct StatementRenderer<'p> {
    plan: &'p Plan,
    dialect: Dialect,
    templates: Templates,
    env: Environment<'static>,
    transform: TransformTemplate,
    shared: Value,
    /// Shapes of the DataFusion statements parsed so far: each shape is parsed once.
    parsed: ParsedShapes,
}

impl<'p> StatementRenderer<'p> {
    /// Compile the templates and the transform for `plan`, with `shadow` as the table
    /// the reconciliation statements compare with the base.
    ///
    /// Errors: as [`render`].
    pub fn new(plan: &'p Plan, templates: &Templates, shadow: &TableName) -> Result<Self, RenderError> {
        Self::new_in(plan, templates, shadow, Dialect::DataFusion)
    }

    /// [`StatementRenderer::new`] for `dialect`: its templates, quoting, literals and
    /// column types, and the transform it renders, parsed with its parser.
    ///
    /// Errors: as [`render`]; a base column whose type the dialect has no name for.
    pub fn new_in(
        plan: &'p Plan,
        templates: &Templates,
        shadow: &TableName,
        dialect: Dialect,
    ) -> Result<Self, RenderError> {
        let env = templates
            .environment(dialect)
            .map_err(|(template, message)| RenderError::Template { template, message })?;
        let transform = TransformTemplate::compile_for(&plan.spec, dialect)?;
        let shared = context::shared(plan, shadow, dialect)?;
        Ok(Self { plan, dialect, templates: templates.clone(), env, transform, shared, parsed: ParsedShapes::new() })
    }

    /// Give the templates `fingerprint` (the plan's, for the ledger rows of the scripts).
    pub fn set_fingerprint(&mut self, fingerprint: &str) {
        self.shared = context! { fingerprint => fingerprint, ..self.shared.clone() };
    }

    /// The template context of `batch`: the shared values plus the batch and its
    /// transform, rendered and parsed once for all of the batch's steps.
    ///
    /// Errors: the transform does not render or parse ([`RenderError::Spec`]).
    pub fn batch_context(&self, batch: &Batch) -> Result<Value, RenderError> {
        let spec = &self.plan.spec;
        let sql = self.transform.render(spec, &batch.partitions)?;
        transform::parse_query_in(spec, self.dialect, &sql)?;
        let indented: Vec<String> =
            sql.lines().map(|l| if l.is_empty() { String::new() } else { format!("    {l}") }).collect();
        Ok(context! {
            batch => context::batch_ctx(spec, batch),
            transform => Value::from_safe_string(indented.join("\n")),
            ..self.shared.clone()
        })
    }

    /// Render `step` (for `batch`, when it is a per-batch step) and parse it back.
    ///
    /// Errors: as [`render`].
    pub fn render_step(&self, step: Step, batch: Option<&Batch>) -> Result<String, RenderError> {
        let ctx = match (step, batch) {
            (_, Some(batch)) => self.batch_context(batch)?,
            (_, None) => self.shared.clone(),
        };
        self.render_with(step, batch, ctx)
    }

    pub(super) fn render_with(&self, step: Step, batch: Option<&Batch>, ctx: Value) -> Result<String, RenderError> {
        let mut statements = self.render_statements(step, batch, ctx)?;
        match statements.len() {
            1 => Ok(statements.remove(0)),
            n => Err(RenderError::Parse {
                template: self.file(step),
                step: step.name(),
                batch: batch.map(|b| format!(", batch {}", b.number)).unwrap_or_default(),
                message: format!("expected one statement, found {n}"),
                sql: statements.join(";\n"),
            }),
        }
    }

    /// The template file `step` renders from, for messages.
    fn file(&self, step: Step) -> String {
        self.templates.source(self.dialect, step.template()).map_or_else(|m| m, |(file, _)| file)
    }

    /// Render `step` with `ctx` into its statements (a warehouse dialect's template may
    /// hold several, split at top-level semicolons), each parsed and round-tripped in
    /// the dialect ([`crate::sql::check_statement`]; DataFusion's statements are parsed
    /// once per shape, see [`ParsedShapes`]).
    ///
    /// Errors: as [`render`].
    pub(super) fn render_statements(
        &self,
        step: Step,
        batch: Option<&Batch>,
        ctx: Value,
    ) -> Result<Vec<String>, RenderError> {
        let file = || self.file(step);
        let tmpl = self
            .env
            .get_template(step.template())
            .map_err(|e| RenderError::Template { template: file(), message: e.to_string() })?;
        let text =
            tmpl.render(ctx).map_err(|e| RenderError::Template { template: file(), message: format!("{e:#}") })?;
        let parse_error = |message: String, sql: &str| RenderError::Parse {
            template: file(),
            step: step.name(),
            batch: batch.map(|b| format!(", batch {}", b.number)).unwrap_or_default(),
            message,
            sql: sql.to_string(),
        };
        let statements = match self.dialect {
            Dialect::DataFusion => vec![text.trim().to_string()],
            d => sql::split_statements(d, &text).map_err(|m| parse_error(m, &text))?,
        };
        for sql in &statements {
            let checked = match self.dialect {
                Dialect::DataFusion => self.parsed.check_parses(sql),
                d => sql::check_statement(d, sql),
            };
            checked.map_err(|m| parse_error(m, sql))?;
        }
        Ok(statements)
    }

    /// The shared template context (no batch).
    pub(super) fn shared(&self) -> Value {
        self.shared.clone()
    }
}

impl StatementRenderer<'_> {
    /// The steps of one batch of the plan, in execution order: the write, then the
    /// reconciliation statements the spec asks for.
    pub fn batch_steps(&self) -> Vec<Step> {
        let mut steps = vec![Step::WriteBatch, Step::ReconcilePartitions];
        if self.plan.spec.validation.unique_keys {
            steps.push(Step::ReconcileUniqueKeys);
        }
        steps.extend([Step::ReconcileRows, Step::ReconcileTopChanges, Step::ReconcileSamples]);
        steps
    }

    /// The batch's reconciliation statements (indexes 0: not part of an executed plan),
    /// e.g. for the dry run's in-memory comparison.
    ///
    /// Errors: as [`super::render`].
    pub fn reconcile_statements(&self, batch: &Batch) -> Result<super::ReconcileStatements, RenderError> {
        let ctx = self.batch_context(batch)?;
        let steps: Vec<Step> = self.batch_steps().into_iter().filter(|s| *s != Step::WriteBatch).collect();
        let mut out = Vec::with_capacity(steps.len());
        for step in steps {
            let sql = self.render_with(step, Some(batch), ctx.clone())?;
            out.push(super::Statement { index: 0, step, batch: Some(batch.number), sql });
        }
        Ok(super::ReconcileStatements::from_statements(out))
    }
}

/// The `rollback` statement redefining consumer view `view` as `previous_body` (its
/// body before the publish, from the catalog), at plan position `index`. Needs nothing
/// of the plan: [`super::render`] renders the plan's rollback with it, and `rollback`
/// renders the one it runs from the catalog alone, the transform unread. The template
/// sees two variables, `view` and `previous_body`.
///
/// Errors: the template does not render, or its statement does not parse.
pub fn rollback_statement(
    view: &TableName,
    templates: &Templates,
    previous_body: &str,
    index: usize,
) -> Result<super::Statement, RenderError> {
    let file = || {
        let name = Step::Rollback.template();
        templates.source(Dialect::DataFusion, name).map_or_else(|m| m, |(file, _)| file)
    };
    let env = templates
        .environment(Dialect::DataFusion)
        .map_err(|(template, message)| RenderError::Template { template, message })?;
    let ctx = context! {
        view => view.to_string(),
        previous_body => Value::from_safe_string(previous_body.to_string()),
    };
    let sql = env
        .get_template(Step::Rollback.template())
        .and_then(|t| t.render(ctx))
        .map_err(|e| RenderError::Template { template: file(), message: format!("{e:#}") })?
        .trim()
        .to_string();
    check_parses(&sql).map_err(|message| RenderError::Parse {
        template: file(),
        step: Step::Rollback.name(),
        batch: String::new(),
        message,
        sql: sql.clone(),
    })?;
    Ok(super::Statement { index, step: Step::Rollback, batch: None, sql })
}
