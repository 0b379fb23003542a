//! The PostgreSQL and DuckDB scripts proved on the real engines: loaded with the sample
//! warehouse's base and source tables, `run.sql`, `publish.sql` and `rollback.sql` give
//! the same shadow, the same view after publish and the same view after rollback as
//! `run --execute`, `publish` and `rollback` in DataFusion, row for row; `run.sql` run
//! twice gives the same shadow; the publish's ledger row carries the DataFusion run's
//! rows written and whole-range metric, and the script ledger numbers the view's
//! releases itself (v1, v2: there is no backfill catalog in the warehouse).

use std::path::Path;

use crate::common::engines::{datafusion_rows as plain_sql, DuckDb, Postgres, SqlEngine};
use crate::common::{bf, fixture_warehouse, published_copy, query};

use super::plan_scripts;

const SHADOW: &str = "SELECT revenue_date, merchant_id, gross_revenue, net_revenue \
                      FROM finance.daily_revenue_v2 ORDER BY revenue_date, merchant_id";
const VIEW: &str = "SELECT revenue_date, merchant_id, gross_revenue, net_revenue \
                    FROM finance.daily_revenue_current ORDER BY revenue_date, merchant_id";
const LEDGER: &str = "SELECT release_id, action, source_range, partitions, catalog_version, rows_written, \
                      metric_deltas FROM governance.data_releases ORDER BY catalog_version";

/// `backfill query` over `wh` as `a|b|c` lines, without the CSV header.
fn datafusion_rows(wh: &Path, sql: &str) -> Vec<String> {
    query(wh, sql).lines().skip(1).map(|l| l.replace(',', "|")).collect()
}

/// What DataFusion gives: the shadow after `run --execute`, the view after `publish`, the
/// view after `rollback`, and the publish's ledger figures (rows written, metric deltas).
#[derive(Debug, PartialEq)]
struct Expected {
    shadow: Vec<String>,
    published: Vec<String>,
    rolled_back: Vec<String>,
    rows_written: String,
    old_new: (String, String),
}

fn expected() -> Expected {
    let wh = published_copy();
    let shadow = datafusion_rows(wh.path(), SHADOW);
    let published = datafusion_rows(wh.path(), VIEW);
    let ledger = query(wh.path(), "SELECT rows_written, metric_deltas FROM governance.data_releases");
    let row = ledger.lines().nth(1).expect("the publish's ledger row").to_string();
    let (rows_written, deltas) = row.split_once(',').expect("two columns");
    let deltas: serde_json::Value =
        serde_json::from_str(&deltas.trim_matches('"').replace("\"\"", "\"")).expect("metric_deltas is JSON");
    let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let old_new = (text(&deltas[0]["old"]), text(&deltas[0]["new"]));
    let (code, _, err) = bf(wh.path(), &["rollback", "specs/revenue-tax-fix.yaml"]);
    assert_eq!(code, Some(0), "{err}");
    let rolled_back = datafusion_rows(wh.path(), VIEW);
    assert_ne!(shadow.len(), 0);
    assert_ne!(published, rolled_back, "the correction changes what readers see");
    Expected { shadow, published, rolled_back, rows_written: rows_written.to_string(), old_new }
}

/// The same, computed independently: plain SQL over the fixture's Parquet files (the
/// spec's transform by hand, the view's two branches by hand), no backfill code.
fn independent() -> Expected {
    let tables = ["finance.daily_revenue", "staging.revenue_events"];
    let in_range = "revenue_date BETWEEN DATE '2024-12-01' AND DATE '2026-05-31' AND revenue_date <> DATE '2025-12-25'";
    let corrected = format!(
        "SELECT revenue_date, merchant_id, gross_revenue, gross_revenue - tax_amount AS net_revenue \
         FROM staging.revenue_events WHERE {in_range}"
    );
    let base = "SELECT revenue_date, merchant_id, gross_revenue, net_revenue FROM finance.daily_revenue";
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sql = |q: String| rt.block_on(plain_sql(&fixture_warehouse(), &tables, &q));
    let figures = sql(format!(
        "SELECT (SELECT count(*) FROM ({corrected})), \
                (SELECT sum(net_revenue) FROM finance.daily_revenue WHERE {in_range}), \
                (SELECT sum(net_revenue) FROM ({corrected}))"
    ));
    let figures: Vec<String> = figures[0].split('|').map(str::to_string).collect();
    Expected {
        shadow: sql(format!("{corrected} ORDER BY 1, 2")),
        published: sql(format!("{corrected} UNION ALL {base} WHERE NOT ({in_range}) ORDER BY 1, 2")),
        rolled_back: sql(format!("{base} ORDER BY 1, 2")),
        rows_written: figures[0].clone(),
        old_new: (figures[1].clone(), figures[2].clone()),
    }
}

fn prove(engine: &dyn SqlEngine, dialect: &str) {
    let expected = expected();
    assert_eq!(expected, independent(), "DataFusion's run equals plain SQL over the files");
    for table in ["finance.daily_revenue", "staging.revenue_events"] {
        engine.load_table(&fixture_warehouse(), table);
    }
    let dir = tempfile::tempdir().unwrap();
    plan_scripts(
        "specs/revenue-tax-fix.yaml",
        dialect,
        dir.path(),
        &["--warehouse", fixture_warehouse().to_str().unwrap()],
    );
    let script = |name: &str| dir.path().join(name);

    let printed = engine.run_script(&script("run.sql"));
    let shadow = engine.rows(SHADOW);
    assert_eq!(shadow.len(), expected.shadow.len(), "{dialect}: shadow rows");
    assert!(shadow == expected.shadow, "{dialect}: the shadow equals DataFusion's, row for row");
    let (old, new) = &expected.old_new;
    assert!(
        printed.contains(old.as_str()) && printed.contains(new.as_str()),
        "{dialect}: run.sql prints the whole-range metric, old {old} and new {new}, as DataFusion computed it"
    );

    engine.run_script(&script("run.sql"));
    assert!(engine.rows(SHADOW) == shadow, "{dialect}: run.sql twice leaves the same shadow");

    engine.run_script(&script("publish.sql"));
    let published = engine.rows(VIEW);
    assert_eq!(published.len(), expected.published.len(), "{dialect}: view rows after publish");
    assert!(published == expected.published, "{dialect}: the published view equals DataFusion's, row for row");

    engine.run_script(&script("rollback.sql"));
    let rolled_back = engine.rows(VIEW);
    assert!(rolled_back == expected.rolled_back, "{dialect}: the rolled-back view equals DataFusion's, row for row");

    let ledger = engine.rows(LEDGER);
    let deltas = format!(r#"[{{"metric":"net_revenue","old":"{old}","new":"{new}"}}]"#);
    let range = "2024-12-01..2026-05-31 excluding 2025-12-25";
    assert_eq!(
        ledger,
        vec![
            format!("revenue-tax-fix-2026-06-publish-v1|publish|{range}|546|1|{}|{deltas}", expected.rows_written),
            format!("revenue-tax-fix-2026-06-rollback-v2|rollback|{range}|546|2|0|[]"),
        ],
        "{dialect}: the ledger rows, with DataFusion's rows written and metric figures"
    );
}

#[test]
fn postgres_scripts_give_datafusions_shadow_and_views() {
    prove(&Postgres::start(), "postgres");
}

#[test]
fn duckdb_scripts_give_datafusions_shadow_and_views() {
    prove(&DuckDb::new(), "duckdb");
}
