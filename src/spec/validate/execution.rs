//! The sections that say what runs and how: `transform` (inline SQL or a file, exactly
//! one) and `execution` (batching, concurrency, budgets, timeouts and the live-pipeline
//! marker).

use crate::spec::raw::{NumberOrText, RawSpec};
use crate::spec::units::{parse_duration, parse_size};
use crate::spec::*;

use super::Ctx;

impl Ctx {
    /// `dialect:`, default `datafusion`.
    pub(super) fn dialect(&self, raw: &RawSpec) -> Result<Dialect, SpecError> {
        raw.dialect.as_deref().map_or(Ok(Dialect::DataFusion), |name| self.dialect_named("dialect", name))
    }

    fn dialect_named(&self, field: &str, name: &str) -> Result<Dialect, SpecError> {
        Dialect::ALL.into_iter().find(|d| d.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
            self.err(field, format!("`{name}` is not a dialect"), format!("write one of {}", names.join(", ")))
        })
    }

    pub(super) fn transform(&self, raw: &RawSpec) -> Result<Transform, SpecError> {
        let mut dialects = std::collections::BTreeMap::new();
        for (name, t) in &raw.transform.dialects {
            let field = format!("transform.dialects.{name}.sql");
            let dialect = self.dialect_named(&format!("transform.dialects.{name}"), name)?;
            if t.sql.trim().is_empty() {
                return Err(self.err(&field, "is empty", "write the SELECT for this dialect, or remove the entry"));
            }
            dialects.insert(dialect, t.sql.clone());
        }
        let (sql, origin) = self.transform_text(raw)?;
        Ok(Transform { sql, origin, dialects })
    }

    fn transform_text(&self, raw: &RawSpec) -> Result<(String, TransformOrigin), SpecError> {
        let t = &raw.transform;
        match (&t.sql, &t.file) {
            (Some(sql), None) => {
                if sql.trim().is_empty() {
                    return Err(self.err("transform.sql", "is empty", "write the SELECT that computes corrected rows"));
                }
                Ok((sql.clone(), TransformOrigin::Inline))
            }
            (None, Some(file)) => {
                let path = self.base_dir().join(file);
                let sql = std::fs::read_to_string(&path).map_err(|e| {
                    self.err(
                        "transform.file",
                        format!("cannot read `{}`: {e}", path.display()),
                        "give a path relative to the spec's folder",
                    )
                })?;
                Ok((sql, TransformOrigin::File(path)))
            }
            (Some(_), Some(_)) => Err(self.err(
                "transform",
                "has both `sql` and `file`",
                "keep exactly one of transform.sql and transform.file",
            )),
            (None, None) => Err(self.err(
                "transform",
                "has neither `sql` nor `file`",
                "add transform.sql (inline SQL) or transform.file (a path)",
            )),
        }
    }

    pub(super) fn execution(&self, raw: &RawSpec) -> Result<Execution, SpecError> {
        let e = &raw.execution;
        let positive = |field: &str, v: Option<u32>, default: u32| match v {
            Some(0) => Err(self.err(field, "is 0", "use 1 or more")),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let duration = |field: &str, v: &Option<String>, default: std::time::Duration| match v {
            Some(text) => parse_duration(text)
                .map_err(|p| self.err(field, p, "write a duration such as \"0s\", \"2s\", \"10m\" or \"1h\"")),
            None => Ok(default),
        };
        let max_bytes_scanned = match &e.max_bytes_scanned {
            None => None,
            Some(NumberOrText::Number(n)) => Some(*n),
            Some(NumberOrText::Text(t)) => Some(parse_size(t).map_err(|p| {
                self.err("execution.max_bytes_scanned", p, "write a size such as \"500MB\" or \"10GiB\"")
            })?),
        };
        let live_pipeline_marker = match &e.live_pipeline_marker {
            None => None,
            Some(m) => {
                let bad = m.is_empty()
                    || m.starts_with('/')
                    || m.contains("://")
                    || m.split('/').any(|s| s == ".." || s == "." || s.is_empty());
                if bad {
                    return Err(self.err(
                        "execution.live_pipeline_marker",
                        format!("`{m}` is not a relative object path inside the warehouse"),
                        "write a path such as _live/finance.daily_revenue.running, without `..` or a leading `/`",
                    ));
                }
                Some(m.clone())
            }
        };
        Ok(Execution {
            partitions_per_batch: positive("execution.partitions_per_batch", e.partitions_per_batch, 7)?,
            max_concurrency: positive("execution.max_concurrency", e.max_concurrency, 1)?,
            max_partitions: positive("execution.max_partitions", e.max_partitions, DEFAULT_MAX_PARTITIONS)?,
            max_bytes_scanned,
            pause_between_batches: duration(
                "execution.pause_between_batches",
                &e.pause_between_batches,
                std::time::Duration::ZERO,
            )?,
            query_timeout: duration("execution.query_timeout", &e.query_timeout, std::time::Duration::from_secs(600))?,
            live_pipeline_marker,
            live_pipeline_max_wait: duration(
                "execution.live_pipeline_max_wait",
                &e.live_pipeline_max_wait,
                std::time::Duration::from_secs(6 * 3600),
            )?,
            engine: e.engine.unwrap_or_default(),
        })
    }
}
