//! [`ParsedShapes`]: [`super::check_parses`] for many statements rendered from the same
//! templates, parsing each shape once. A plan's batches render the same statements with
//! other dates, partition lists and staging paths, all in single-quoted string literals:
//! a 10-year daily plan has ~3,000 statements of a dozen shapes, and parsing each one
//! dominated rendering.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use datafusion::sql::parser::DFParserBuilder;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

/// The shapes of statements that parsed as exactly one statement with DataFusion's
/// parser. A statement's shape is its token stream (DataFusion's tokenizer, the generic
/// dialect the parser uses) with the text of every single-quoted string left out: the
/// parser never looks inside such a string, so two statements of one shape parse alike.
#[derive(Debug, Default)]
pub struct ParsedShapes {
    /// Token streams that parsed, by [`shape_hash`].
    seen: Mutex<HashMap<u64, Vec<Vec<Token>>>>,
}

/// Hash of the shape of `tokens` (single-quoted strings by kind only).
fn shape_hash(tokens: &[TokenWithSpan]) -> u64 {
    let mut h = DefaultHasher::new();
    for t in tokens {
        match &t.token {
            Token::SingleQuotedString(_) => std::mem::discriminant(&t.token).hash(&mut h),
            other => other.hash(&mut h),
        }
    }
    h.finish()
}

/// Whether `a` and `b` have one shape: equal tokens, single-quoted strings of any text.
fn same_shape(a: &[Token], b: &[TokenWithSpan]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, &y.token) {
            (Token::SingleQuotedString(_), Token::SingleQuotedString(_)) => true,
            (x, y) => x == y,
        })
}

impl ParsedShapes {
    /// No shapes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// [`super::check_parses`] `sql`: `Ok` at once when a statement of the same shape
    /// parsed before, else the parse (from the tokens, which are not read twice).
    ///
    /// Errors: as [`super::check_parses`], with the same messages.
    pub fn check_parses(&self, sql: &str) -> Result<(), String> {
        let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location() else {
            // The tokenizer's error, worded as the parser words it.
            return super::check_parses(sql);
        };
        let hash = shape_hash(&tokens);
        let known = |seen: &HashMap<u64, Vec<Vec<Token>>>| {
            seen.get(&hash).is_some_and(|shapes| shapes.iter().any(|s| same_shape(s, &tokens)))
        };
        if known(&self.seen.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(());
        }
        let shape: Vec<Token> = tokens.iter().map(|t| t.token.clone()).collect();
        let stmts =
            DFParserBuilder::new(tokens).build().and_then(|mut p| p.parse_statements()).map_err(|e| e.to_string())?;
        match stmts.len() {
            1 => {
                self.seen.lock().unwrap_or_else(|p| p.into_inner()).entry(hash).or_default().push(shape);
                Ok(())
            }
            n => Err(format!("expected one statement, found {n}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shape_parses_once_and_errors_read_as_check_parses_words_them() {
        let shapes = ParsedShapes::new();
        let batch = |day: &str, path: &str| {
            format!("COPY (SELECT * FROM t WHERE d IN (DATE '{day}')) TO '{path}' STORED AS PARQUET")
        };
        assert_eq!(shapes.check_parses(&batch("2024-12-01", "bf://w/a/")), Ok(()));
        assert_eq!(shapes.seen.lock().unwrap().len(), 1);
        assert_eq!(shapes.check_parses(&batch("2025-01-31", "bf://w/it''s/")), Ok(()));
        assert_eq!(shapes.seen.lock().unwrap().len(), 1, "same shape: not parsed again");
        for bad in ["SELEC 1", "SELECT * FROM", "SELECT 1; SELECT 2", "SELECT 'open", "SELECT (1"] {
            assert_eq!(shapes.check_parses(bad), super::super::check_parses(bad), "{bad}");
            assert!(shapes.check_parses(bad).is_err(), "{bad}");
        }
        // Anything outside a single-quoted string is part of the shape.
        assert!(shapes.check_parses("SELECT * FROM t WHERE d IN (DATE '2024-12-01'").is_err());
        assert!(shapes.check_parses("SELECT \"it's\" FROM t").is_ok());
        assert!(shapes.check_parses("SELECT \"it's\" FROM t WHERE").is_err());
    }
}
