//! The library's error, and whose fault it is. The CLI maps [`ErrorKind`] to an exit
//! code in one place (DESIGN.md, exit codes).

use crate::catalog::CatalogError;
use crate::spec::SpecError;
use crate::warehouse::WarehouseError;

/// Whose fault an error is, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input: usage, spec, SQL that does not parse, a missing table (exit 2).
    Input,
    /// A gate or publish check said no (exit 1).
    Refused,
    /// I/O or engine failure (exit 3).
    Runtime,
    /// A lock is held or the catalog moved on (exit 4).
    Conflict,
}

impl ErrorKind {
    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Refused => 1,
            ErrorKind::Input => 2,
            ErrorKind::Runtime => 3,
            ErrorKind::Conflict => 4,
        }
    }
}

/// Any error of the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec is wrong (or names what the warehouse lacks). Boxed: it is large.
    #[error(transparent)]
    Spec(Box<SpecError>),
    /// The warehouse could not be opened or read.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// The catalog could not be read.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// A template failed or rendered SQL that does not parse. Boxed: it is large.
    #[error(transparent)]
    Render(Box<RenderError>),
    /// The DataFusion engine failed.
    #[error("engine: {0}")]
    Engine(#[from] Box<datafusion::error::DataFusionError>),
    /// A lock is held or the catalog moved on.
    #[error("{0}")]
    Conflict(String),
    /// A gate said no; the message names the gate and the batch.
    #[error("{0}")]
    Gate(String),
    /// A state file under `_backfills/` or `_catalog/` does not parse.
    #[error("`{path}` is corrupt: {message}\n  fix: restore it, or rerun with --restart to begin the backfill again")]
    Corrupt {
        /// Object path.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A state file of a backfill (`_backfills/<id>/…`) is damaged: truncated, not JSON,
    /// or not the shape this release reads.
    #[error("`{path}` is damaged: {problem}\n  fix: {fix}")]
    DamagedState {
        /// Object path.
        path: String,
        /// The parser's message.
        problem: String,
        /// How to repair it, by the file's kind.
        fix: String,
    },
    /// A statement's result lacks a column that backfill reads: a template (or its
    /// `--templates` override) renamed or dropped it. Never read as 0.
    #[error(
        "the result of {statement} has no column `{column}`, which backfill reads (its columns: {present})\n  \
         fix: restore the column in template {statement}.sql.j2 (under templates/common/ or templates/datafusion/), \
         or in its --templates override"
    )]
    MissingColumn {
        /// The statement's step name, e.g. `reconcile_partitions`.
        statement: String,
        /// The column read.
        column: String,
        /// The columns the result has.
        present: String,
    },
    /// A statement ran longer than `execution.query_timeout`.
    #[error("{0}")]
    Timeout(String),
    /// Bad command-line input not covered above.
    #[error("{0}")]
    Usage(String),
    /// Writing output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being written.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Whose fault this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Spec(_) | Error::Render(_) | Error::Usage(_) | Error::MissingColumn { .. } => ErrorKind::Input,
            Error::Conflict(_) | Error::Catalog(CatalogError::Conflict { .. }) => ErrorKind::Conflict,
            Error::Gate(_) => ErrorKind::Refused,
            Error::Warehouse(WarehouseError::Location { .. }) => ErrorKind::Input,
            Error::Catalog(CatalogError::Warehouse(WarehouseError::Location { .. })) => ErrorKind::Input,
            Error::Warehouse(_)
            | Error::Catalog(_)
            | Error::Engine(_)
            | Error::Corrupt { .. }
            | Error::DamagedState { .. }
            | Error::Timeout(_)
            | Error::Io { .. } => ErrorKind::Runtime,
        }
    }
}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        Error::Spec(Box::new(e))
    }
}

impl From<RenderError> for Error {
    fn from(e: RenderError) -> Self {
        Error::Render(Box::new(e))
    }
}

/// Wrap a DataFusion error (exit 3).
///
/// An error of ours that passed through the engine (`External`: a table a statement reads
/// that did not register, see `execute::session::open`) comes back as itself.
pub fn engine(e: datafusion::error::DataFusionError) -> Error {
    match e {
        datafusion::error::DataFusionError::External(inner) => match inner.downcast::<Error>() {
            Ok(ours) => *ours,
            Err(other) => Error::Engine(Box::new(datafusion::error::DataFusionError::External(other))),
        },
        e => Error::Engine(Box::new(e)),
    }
}

/// True for an error of ours that passed through the engine as `External` (a table a
/// statement reads that did not register): [`engine`] gives it back as itself. Callers
/// that turn a statement's planning errors into input errors pass these on instead.
pub fn passed_through(e: &datafusion::error::DataFusionError) -> bool {
    matches!(e, datafusion::error::DataFusionError::External(inner) if inner.is::<Error>())
}

/// Wrap an object-store error of warehouse `wh` (exit 3).
pub fn store_err(wh: &crate::warehouse::Warehouse, e: object_store::Error) -> Error {
    Error::Warehouse(wh.store_error(e))
}

/// Errors while rendering.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A template does not compile or render (exit 2).
    #[error("template {template}: {message}\n  fix: correct the template, or drop the --templates override")]
    Template {
        /// The template file.
        template: String,
        /// minijinja's message.
        message: String,
    },
    /// A rendered statement does not parse (exit 2).
    #[error(
        "template {template} rendered SQL that does not parse ({step}{batch}): {message}\n\
         --- rendered SQL ---\n{sql}\n  fix: correct the template"
    )]
    Parse {
        /// The template file.
        template: String,
        /// The step (`write_batch`).
        step: &'static str,
        /// `, batch N` or empty.
        batch: String,
        /// The parser's message.
        message: String,
        /// The statement as rendered.
        sql: String,
    },
    /// The transform, which comes from the spec, failed (exit 2).
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// The plan cannot be written in this dialect (exit 2).
    #[error("cannot render the plan in {dialect}: {problem}\n  fix: {fix}")]
    Unsupported {
        /// The dialect asked for.
        dialect: crate::sql::Dialect,
        /// What it lacks.
        problem: String,
        /// What to do instead.
        fix: String,
    },
}
