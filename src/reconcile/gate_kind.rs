//! [`GateKind`]: which gate a verdict belongs to, typed, and written as the spec field's
//! name so that checkpoints, `range.json` and reports read the same as they always have.

use serde::{Deserialize, Serialize};

/// Which gate: the spec field behind it. Written (JSON, reports) as the field's name,
/// with the metric after a colon for the metric gates: `row_count_tolerance`,
/// `unique_keys`, `not_null`, `schema`, `batch_expected_delta:<metric>`,
/// `expected_delta:<metric>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum GateKind {
    /// `validation.row_count_tolerance`, per partition.
    RowCount,
    /// `validation.unique_keys`.
    UniqueKeys,
    /// `validation.not_null`.
    NotNull,
    /// The shadow's columns and types equal the base's.
    Schema,
    /// A metric's `batch_expected_delta`, on one batch's aggregate.
    BatchExpectedDelta(String),
    /// A metric's `expected_delta`, on the whole range.
    ExpectedDelta(String),
}

impl std::fmt::Display for GateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GateKind::RowCount => f.write_str("row_count_tolerance"),
            GateKind::UniqueKeys => f.write_str("unique_keys"),
            GateKind::NotNull => f.write_str("not_null"),
            GateKind::Schema => f.write_str("schema"),
            GateKind::BatchExpectedDelta(m) => write!(f, "batch_expected_delta:{m}"),
            GateKind::ExpectedDelta(m) => write!(f, "expected_delta:{m}"),
        }
    }
}

impl From<GateKind> for String {
    fn from(k: GateKind) -> String {
        k.to_string()
    }
}

impl TryFrom<String> for GateKind {
    type Error = String;
    /// Errors: a name that is no gate's (a checkpoint from another release of backfill).
    fn try_from(name: String) -> Result<Self, String> {
        Ok(match name.split_once(':') {
            Some(("batch_expected_delta", m)) => GateKind::BatchExpectedDelta(m.to_string()),
            Some(("expected_delta", m)) => GateKind::ExpectedDelta(m.to_string()),
            _ => match name.as_str() {
                "row_count_tolerance" => GateKind::RowCount,
                "unique_keys" => GateKind::UniqueKeys,
                "not_null" => GateKind::NotNull,
                "schema" => GateKind::Schema,
                _ => return Err(format!("`{name}` is not a gate")),
            },
        })
    }
}

#[cfg(test)]
mod kind_tests {
    use super::GateKind;

    #[test]
    fn gate_names_round_trip_and_unknown_names_are_refused() {
        for kind in [GateKind::RowCount, GateKind::Schema, GateKind::ExpectedDelta("net_revenue".into())] {
            assert_eq!(GateKind::try_from(kind.to_string()), Ok(kind));
        }
        assert_eq!(GateKind::BatchExpectedDelta("m".into()).to_string(), "batch_expected_delta:m");
        assert!(GateKind::try_from("row_count".to_string()).is_err());
    }
}
