//! Both bundled specs render in all six dialects, and every statement parses with the
//! dialect's own sqlparser parser (never the generic one) and prints back to the same AST.

use backfill::plan::Plan;
use backfill::render::{render_scripts, Templates};
use backfill::spec::{Dialect, Spec};
use backfill::warehouse::Warehouse;
use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::{
    BigQueryDialect, Dialect as ParserDialect, DuckDbDialect, PostgreSqlDialect, SnowflakeDialect, SparkSqlDialect,
};
use datafusion::sql::sqlparser::parser::Parser;

use crate::common::{root, warehouse_override};

fn parser_of(dialect: Dialect) -> Option<Box<dyn ParserDialect>> {
    match dialect {
        Dialect::DataFusion => None,
        Dialect::Postgres => Some(Box::new(PostgreSqlDialect {})),
        Dialect::DuckDb => Some(Box::new(DuckDbDialect {})),
        Dialect::Spark => Some(Box::new(SparkSqlDialect {})),
        Dialect::BigQuery => Some(Box::new(BigQueryDialect {})),
        Dialect::Snowflake => Some(Box::new(SnowflakeDialect {})),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_specs_render_in_all_six_dialects_and_every_statement_parses_in_its_dialect() {
    let mut checked = std::collections::BTreeMap::new();
    for name in ["revenue-tax-fix.yaml", "tpch-revenue-fix.yaml"] {
        let spec = Spec::load(&root().join("specs").join(name)).unwrap_or_else(|e| panic!("{e}"));
        let location = match warehouse_override(name) {
            Some(dir) => dir.display().to_string(),
            None => spec.source.warehouse.clone().expect("specs name their warehouse"),
        };
        let plan = Plan::build(spec, &Warehouse::open(&location).unwrap()).await.unwrap_or_else(|e| panic!("{e}"));
        for dialect in Dialect::ALL {
            let scripts = render_scripts(&plan, &Templates::default(), dialect).unwrap_or_else(|e| panic!("{e}"));
            for script in scripts.all() {
                assert!(!script.statements.is_empty(), "{name} {dialect} {}", script.file);
            }
            for s in scripts.statements() {
                match parser_of(dialect) {
                    // DataFusion's statements round-trip in tests/roundtrip.rs.
                    None => assert_eq!(DFParser::parse_sql(&s.sql).map(|v| v.len()).ok(), Some(1), "{}", s.sql),
                    Some(parser) => {
                        let first = Parser::parse_sql(&*parser, &s.sql)
                            .unwrap_or_else(|e| panic!("{name} {dialect} [{}] {}: {e}\n{}", s.index, s.step, s.sql));
                        assert_eq!(first.len(), 1, "{dialect}: one statement: {}", s.sql);
                        let printed = first[0].to_string();
                        let again = Parser::parse_sql(&*parser, &printed).expect("printed form parses");
                        assert_eq!(first, again, "{dialect}: {} round-trips", s.sql);
                    }
                }
                *checked.entry((name, dialect.name())).or_insert(0) += 1;
            }
        }
    }
    assert_eq!(checked.len(), 12, "two specs in six dialects: {checked:?}");
    // The sample spec: the shadow's schema and table; 78 batches of a write (four
    // statements in a transaction; in Spark four SETs, a DROP of each of the 546
    // partitions, one INSERT OVERWRITE) and five reconciliation queries; the range query;
    // publish and rollback: the ledger's schema and table, the view and the ledger row
    // (PostgreSQL: in BEGIN/COMMIT).
    assert_eq!(checked[&("revenue-tax-fix.yaml", "postgres")], 2 + 78 * 9 + 1 + 6 + 6);
    assert_eq!(checked[&("revenue-tax-fix.yaml", "spark")], 2 + 78 * (4 + 1 + 5) + 546 + 1 + 4 + 4);
}
