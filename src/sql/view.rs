//! The definition in a rendered `CREATE [OR REPLACE] VIEW <name> AS <query>`: the
//! statement is parsed (it must be exactly one CREATE VIEW), and its query's text is
//! located by the tokenizer (the first token after the `AS` that follows the name), so
//! the catalog keeps the body byte for byte as rendered.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer, Whitespace};

/// A view as a CREATE VIEW statement defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewDefinition {
    /// The view's name as written (`sales."revenue_current"`).
    pub name: String,
    /// Its query, as written in the statement.
    pub body: String,
}

/// Read `statement` as one CREATE VIEW.
///
/// Errors: a message when it does not parse, is not exactly one CREATE VIEW, or its
/// query text cannot be located.
pub fn view_definition(statement: &str) -> Result<ViewDefinition, String> {
    let dialect = GenericDialect {};
    let parsed = Parser::parse_sql(&dialect, statement).map_err(|e| e.to_string())?;
    let [Statement::CreateView(view)] = parsed.as_slice() else {
        return Err("expected exactly one CREATE VIEW statement".into());
    };
    let tokens = Tokenizer::new(&dialect, statement).tokenize_with_location().map_err(|e| e.to_string())?;
    let after_as = tokens
        .iter()
        .position(|t| matches!(&t.token, Token::Word(w) if w.keyword == Keyword::AS && w.quote_style.is_none()))
        .ok_or("the statement has no AS")?;
    let first = tokens[after_as + 1..]
        .iter()
        .find(|t| !matches!(t.token, Token::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)))
        .ok_or("nothing follows AS")?;
    let body =
        statement[offset(statement, first.span.start).ok_or("the query's position is outside the statement")?..].trim();
    let reparsed =
        Parser::new(&dialect).try_with_sql(body).and_then(|mut p| p.parse_query()).map_err(|e| e.to_string())?;
    if reparsed != view.query {
        return Err("the text after AS is not the view's query".into());
    }
    Ok(ViewDefinition { name: view.name.to_string(), body: body.to_string() })
}

/// Byte offset of a tokenizer location (1-based line and character column).
fn offset(text: &str, at: Location) -> Option<usize> {
    let mut line_start = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        if n as u64 + 1 == at.line {
            let column = line.char_indices().nth(at.column.checked_sub(1)? as usize).map(|(i, _)| i)?;
            return Some(line_start + column);
        }
        line_start += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::view_definition;

    #[test]
    fn the_body_is_kept_as_written() {
        let sql = "CREATE OR REPLACE VIEW sales.\"as\" AS\nSELECT a AS b\n  FROM t -- note\n WHERE x IS NOT TRUE";
        let v = view_definition(sql).unwrap();
        assert_eq!(v.name, "sales.\"as\"");
        assert_eq!(v.body, "SELECT a AS b\n  FROM t -- note\n WHERE x IS NOT TRUE");
        let v = view_definition("CREATE VIEW IF NOT EXISTS s.v AS SELECT * FROM \"s\".\"t\"").unwrap();
        assert_eq!(v.body, "SELECT * FROM \"s\".\"t\"");
    }

    #[test]
    fn other_statements_are_refused() {
        assert!(view_definition("SELECT 1").unwrap_err().contains("CREATE VIEW"));
        assert!(view_definition("CREATE VIEW v AS SELECT 1; SELECT 2").is_err());
    }
}
