//! Downstream dependents: catalog views that read the base table or the consumer view,
//! directly or through other views (found by parsing each view's SQL), followed by the
//! spec's declared `downstream` entries.

use std::collections::BTreeSet;

use datafusion::sql::parser::{DFParser, Statement as DFStatement};
use serde::Serialize;

use crate::catalog::CatalogVersion;
use crate::plan::transform::relations;
use crate::spec::Spec;

/// How a dependent was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DependentKind {
    /// A catalog view whose SQL reads the base table or the consumer view.
    CatalogView,
    /// Listed under `downstream:` in the spec.
    Declared,
}

/// One downstream dependent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependent {
    /// View name (`finance.monthly_revenue`) or declared label (`dashboard:finance-revenue`).
    pub name: String,
    /// How it was found.
    pub kind: DependentKind,
}

pub(super) fn find(spec: &Spec, catalog: &CatalogVersion) -> Vec<Dependent> {
    let view_name = spec.target.view.to_string();
    let reads: Vec<(String, Vec<String>)> = catalog
        .views
        .iter()
        .filter(|(name, _)| **name != view_name)
        .filter_map(|(name, view)| match DFParser::parse_sql(&view.sql) {
            Ok(stmts) => Some((
                name.clone(),
                stmts
                    .iter()
                    .flat_map(|s| match s {
                        DFStatement::Statement(s) => relations(s.as_ref()),
                        _ => Vec::new(),
                    })
                    .collect(),
            )),
            Err(e) => {
                tracing::warn!(
                    view = %name,
                    error = %e,
                    "catalog view does not parse; left out of downstream dependents"
                );
                None
            }
        })
        .collect();
    let mut reached: BTreeSet<String> = [spec.target.table.to_string(), view_name].into_iter().collect();
    let mut found = BTreeSet::new();
    loop {
        let before = found.len();
        for (name, rels) in &reads {
            if rels.iter().any(|r| reached.contains(r)) && found.insert(name.clone()) {
                reached.insert(name.clone());
            }
        }
        if found.len() == before {
            break;
        }
    }
    found
        .into_iter()
        .map(|name| Dependent { name, kind: DependentKind::CatalogView })
        .chain(spec.downstream.iter().map(|d| Dependent { name: d.clone(), kind: DependentKind::Declared }))
        .collect()
}

impl std::fmt::Display for Dependent {
    /// `reporting.revenue_ytd (catalog view)`, `dashboard:finance (declared)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            DependentKind::CatalogView => write!(f, "{} (catalog view)", self.name),
            DependentKind::Declared => write!(f, "{} (declared)", self.name),
        }
    }
}
