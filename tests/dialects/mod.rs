//! `plan --dialect D`: the plan as three scripts for PostgreSQL, DuckDB, Spark SQL,
//! BigQuery and Snowflake (and the executed DataFusion plan as the same three files).
//! Every statement parses in its dialect; the scripts of the sample spec are pinned by
//! snapshots; a transform that the dialect's parser rejects is a spec error.

mod parse;
mod proof;

use std::path::Path;

use crate::common::backfill;

/// The six dialects, as `--dialect` names them.
pub const DIALECTS: [&str; 6] = ["datafusion", "postgres", "duckdb", "spark", "bigquery", "snowflake"];

/// `plan SPEC --dialect D --out DIR` (extra args after), asserting exit 0.
pub fn plan_scripts(spec: &str, dialect: &str, out: &Path, extra: &[&str]) {
    let run =
        backfill().args(["plan", spec, "--dialect", dialect, "--out"]).arg(out).args(extra).output().expect("runs");
    assert_eq!(run.status.code(), Some(0), "{dialect}: {}", String::from_utf8_lossy(&run.stderr));
}

/// The sample spec's text, its warehouse made absolute so a copy elsewhere finds it.
fn sample_spec_text() -> String {
    let spec = std::fs::read_to_string(crate::common::root().join("specs/revenue-tax-fix.yaml")).unwrap();
    let warehouse = crate::common::fixture_warehouse();
    spec.replace("warehouse: ../fixtures/warehouse", &format!("warehouse: {}", warehouse.display()))
}

#[test]
fn the_three_scripts_of_the_sample_spec_are_pinned_in_every_dialect() {
    for dialect in DIALECTS {
        let out = tempfile::tempdir().unwrap();
        plan_scripts("specs/revenue-tax-fix.yaml", dialect, out.path(), &[]);
        for file in ["run.sql", "publish.sql", "rollback.sql"] {
            let text = std::fs::read_to_string(out.path().join(file)).unwrap();
            insta::with_settings!({ prepend_module_to_snapshot => false }, {
                insta::assert_snapshot!(format!("scripts-{dialect}-{file}"), text);
            });
        }
    }
}

#[test]
fn a_transform_the_dialects_parser_rejects_is_a_spec_error_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(crate::common::root().join("specs/revenue-tax-fix.yaml")).unwrap();
    // Spark's backticks: DataFusion's parser reads them, PostgreSQL's does not.
    let spec = spec
        .replace(
            "warehouse: ../fixtures/warehouse",
            &format!("warehouse: {}", crate::common::fixture_warehouse().display()),
        )
        .replace("    FROM staging.revenue_events\n", "    FROM `staging`.`revenue_events`\n");
    let path = dir.path().join("backticks.yaml");
    std::fs::write(&path, &spec).unwrap();
    let line = spec.lines().position(|l| l.contains("FROM `staging`")).unwrap() + 1;
    let out = dir.path().join("out");

    let run = backfill().arg("plan").arg(&path).args(["--dialect", "postgres", "--out"]).arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("backticks.yaml:{line}:10")), "points at the backtick: {stderr}");
    assert!(stderr.contains("does not parse as postgres SQL"), "{stderr}");
    assert!(stderr.contains("transform.dialects.postgres.sql"), "says how to fix it: {stderr}");
    assert!(!out.join("run.sql").exists(), "nothing written");

    // The same spec renders in Spark, whose parser reads backticks.
    plan_scripts(path.to_str().unwrap(), "spark", &out, &[]);
    assert!(std::fs::read_to_string(out.join("run.sql")).unwrap().contains("FROM `staging`.`revenue_events`"));

    // With `dialect: postgres` in the spec, `plan` renders PostgreSQL without --dialect,
    // and `validate` parses the transform as PostgreSQL: both refuse it.
    let spec = spec.replace("target:\n", "dialect: postgres\ntarget:\n");
    std::fs::write(&path, &spec).unwrap();
    for args in [vec!["plan"], vec!["validate"]] {
        let run = backfill().args(&args).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(&format!("backticks.yaml:{}:10", line + 1)), "{args:?}: {stderr}");
    }
}

#[test]
fn a_per_dialect_transform_replaces_the_spec_transform_in_that_dialect_only() {
    let dir = tempfile::tempdir().unwrap();
    let postgres = "  dialects:
    postgres:
      sql: |
        SELECT revenue_date, merchant_id, gross_revenue,
               (gross_revenue - tax_amount)::numeric(18, 2) AS net_revenue
        FROM staging.revenue_events
        WHERE revenue_date BETWEEN {{ batch_start }} AND {{ batch_end }}
downstream:";
    let spec = sample_spec_text().replace("downstream:", postgres);
    let path = dir.path().join("override.yaml");
    std::fs::write(&path, &spec).unwrap();
    for (dialect, has_cast) in [("postgres", true), ("duckdb", false)] {
        let out = dir.path().join(dialect);
        plan_scripts(path.to_str().unwrap(), dialect, &out, &[]);
        let run = std::fs::read_to_string(out.join("run.sql")).unwrap();
        assert_eq!(run.contains("(gross_revenue - tax_amount)::numeric(18, 2)"), has_cast, "{dialect}");
    }
}

#[test]
fn a_datafusion_override_never_replaces_a_scripts_statement_and_a_dialects_own_does() {
    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().join("templates");
    std::fs::create_dir_all(templates.join("postgres")).unwrap();
    // An override of DataFusion's view swap, as a team may keep for `run --execute`.
    std::fs::write(templates.join("view_swap.sql.j2"), "CREATE OR REPLACE VIEW {{ view | table }} AS SELECT 1")
        .unwrap();
    let plain = dir.path().join("plain");
    plan_scripts("specs/revenue-tax-fix.yaml", "postgres", &plain, &[]);
    let with_templates = |out: &Path| {
        plan_scripts("specs/revenue-tax-fix.yaml", "postgres", out, &["--templates", templates.to_str().unwrap()]);
    };
    let with_df_override = dir.path().join("df");
    with_templates(&with_df_override);
    let publish = |d: &Path| std::fs::read_to_string(d.join("publish.sql")).unwrap();
    assert_eq!(publish(&with_df_override), publish(&plain), "DataFusion's view_swap override is not PostgreSQL's");

    std::fs::write(templates.join("postgres/view_swap.sql.j2"), "SELECT 'reviewed' AS publish").unwrap();
    let with_pg_override = dir.path().join("pg");
    with_templates(&with_pg_override);
    assert!(publish(&with_pg_override).contains("SELECT 'reviewed' AS publish;"), "{}", publish(&with_pg_override));
}

#[test]
fn a_transform_for_another_dialect_leaves_the_datafusion_fingerprint_alone() {
    let dir = tempfile::tempdir().unwrap();
    let validate = |spec: &str| {
        let path = dir.path().join("spec.yaml");
        std::fs::write(&path, spec).unwrap();
        let out = backfill().arg("validate").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let fingerprint = |text: &str| text.lines().find(|l| l.contains("fingerprint sha256:")).unwrap().to_string();
    let before = validate(&sample_spec_text());
    let spark = "  dialects:\n    spark:\n      sql: SELECT * FROM staging.revenue_events\ndownstream:";
    let after =
        validate(&sample_spec_text().replace("downstream:", spark).replace("target:\n", "dialect: spark\ntarget:\n"));
    assert_eq!(fingerprint(&before), fingerprint(&after));
    // validate also renders the spec's dialect: the schema and table of the shadow, then
    // per batch four SETs, the INSERT OVERWRITE and five reconciliation queries, a DROP
    // of each of the 546 partitions, the range query, and publish's and rollback's four.
    let spark_statements = 2 + 78 * (4 + 1 + 5) + 546 + 1 + 4 + 4;
    assert!(after.contains(&format!("also as spark scripts: {spark_statements} statements")), "{after}");
    assert!(!before.contains("also as"), "{before}");
}
