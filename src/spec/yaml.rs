//! Reading a spec's YAML into a [`RawSpec`], with serde errors turned into [`SpecError`]s
//! at the line and column of the offending key or value.
//!
//! The YAML crate is serde-saphyr: it is maintained (serde_yaml is deprecated), written
//! without `unsafe`, bounds alias expansion, and gives every error a line and column. It
//! also re-exports the event parser it is built on (`granit_parser`), which
//! [`super::locate`] walks to place the checks that run after deserialization, so one YAML
//! crate does both jobs; serde_norway, the maintained fork of serde_yaml, has no public
//! event parser and would have kept yaml-rust2 beside it.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::{DefaultMessageFormatter, MessageFormatter};

use super::raw::RawSpec;
use super::{PathIndex, SpecError};

const SPEC_REFERENCE: &str = "see the spec reference in README.md";

/// Deserialize `text`; on failure, a [`SpecError`] placed with the help of `index`.
pub(super) fn raw_spec(text: &str, file: &Path, index: &PathIndex) -> Result<RawSpec, SpecError> {
    from_yaml(text, file, index)
}

/// Deserialize `text` as `T` (the whole spec, or the few fields [`super::SpecIdentity`]
/// reads); on failure, a [`SpecError`] placed with the help of `index`.
pub(super) fn from_yaml<T: DeserializeOwned>(text: &str, file: &Path, index: &PathIndex) -> Result<T, SpecError> {
    let options = serde_saphyr::options! {
        // YAML 1.2 booleans only: `yes`, `no`, `on` and `off` are not booleans.
        strict_booleans: true,
        // The error is shown as `file:line:col: problem`, without a source snippet.
        with_snippet: false,
    };
    serde_saphyr::from_str_with_options(text, options).map_err(|e| to_spec_error(&e, file, index))
}

fn to_spec_error(e: &serde_saphyr::Error, file: &Path, index: &PathIndex) -> SpecError {
    let problem = DefaultMessageFormatter.format_message(e).into_owned();
    let at = e.location().map(|l| (l.line() as usize, l.column() as usize)).filter(|&(line, _)| line > 0);
    let mapping = at.and_then(|(line, col)| index.mapping_at(line, col));
    let (position, field, fix) = if problem.starts_with("missing field") {
        // serde-saphyr places it at the mapping's last key; the mapping's first key reads better.
        let position = mapping.map(|(_, start)| start).or(at);
        (position, mapping.map(|(path, _)| path), format!("add the field; {SPEC_REFERENCE}"))
    } else if problem.starts_with("unknown field") {
        (at, mapping.map(|(path, _)| path), format!("remove the field or correct its spelling; {SPEC_REFERENCE}"))
    } else if problem.starts_with("duplicate mapping key") {
        (at, mapping.map(|(path, _)| path), "write each field once".to_string())
    } else if let Some(field) = at.and_then(|(line, col)| index.field_at(line, col)) {
        (at, Some(field), format!("give the field a value of the expected type; {SPEC_REFERENCE}"))
    } else {
        (at, None, format!("fix the YAML at this position; {SPEC_REFERENCE}"))
    };
    let problem = match problem.find(", set DuplicateKeyPolicy") {
        Some(cut) => problem[..cut].to_string(),
        None => problem,
    };
    SpecError { file: file.to_path_buf(), position, field: field.unwrap_or_default().to_string(), problem, fix }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> SpecError {
        raw_spec(text, Path::new("s.yaml"), &PathIndex::build(text)).expect_err("a bad spec")
    }

    #[test]
    fn missing_field_is_placed_at_the_start_of_its_mapping() {
        let e = error("# c\nbackfill_id: x\nreason:\n  issue: a\n  change: b\nowner: o\n");
        assert_eq!((e.position, e.field.as_str()), (Some((4, 3)), "reason"));
        assert_eq!(e.problem, "missing field `kind`");
    }

    #[test]
    fn wrong_types_name_their_field_and_bad_yaml_its_position() {
        let e = error("backfill_id: x\nowner: [1, 2]\n");
        assert_eq!((e.position, e.field.as_str()), (Some((2, 8)), "owner"));
        let e = error("backfill_id: x\n owner: [\n");
        assert!(e.position.is_some(), "{e}");
        assert!(e.fix.contains("fix the YAML"), "{e}");
        let e = error("backfill_id: x\nbackfill_id: y\n");
        assert_eq!((e.position, e.problem.as_str()), (Some((2, 1)), "duplicate mapping key: backfill_id"));
    }

    #[test]
    fn empty_and_non_mapping_documents_are_errors() {
        for text in ["", "- a\n- b\n", "just text", "a: *undefined\n"] {
            let e = error(text);
            assert!(!e.problem.is_empty(), "{text:?}");
        }
    }
}
