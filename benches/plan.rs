//! `cargo bench --bench plan`: how long `backfill plan` takes for a 10-year daily range
//! in a warehouse of 50 tables, and how long opening an engine session and running one
//! query against the base table take there.
//!
//! Builds a sample warehouse of 2016-01-01..2025-12-31 (3,653 daily partitions in each
//! of the sample's two tables, 5 merchants a day) in a temp folder, plus 48 more tables
//! across four schemas (`bench_0` .. `bench_3`), each with the same 3,653 daily
//! partitions (hard links to the source table's files: no copies). Then it times the
//! whole compile — spec load, listing the tables the spec names, 3,653 footer reads,
//! batching, rendering ~3,100 statements and parsing each back — and, separately, a
//! session over the warehouse (`execute::session::open`) and one query against one
//! partition of the base table; and `backfill plan` itself (the binary this bench was
//! built with, printing every statement), start to exit. Prints the figures. Not a
//! pass/fail test.

use std::path::Path;
use std::time::{Duration, Instant};

use backfill::catalog;
use backfill::execute::session::{self, SessionOptions};
use backfill::plan::Plan;
use backfill::render::{render, Templates};
use backfill::sample::{write_sample, SampleOptions};
use backfill::spec::Spec;
use backfill::warehouse::Warehouse;
use chrono::NaiveDate;

const RUNS: usize = 5;
/// Tables added to the sample's two.
const EXTRA_TABLES: usize = 48;
/// Schemas the extra tables are spread over.
const EXTRA_SCHEMAS: usize = 4;

/// Hard-link every partition of `root/staging/revenue_events` into `EXTRA_TABLES` tables
/// `bench_<i % EXTRA_SCHEMAS>.events_<i>`; returns the number of files linked.
fn add_tables(root: &Path) -> usize {
    let source = root.join("staging/revenue_events");
    let partitions: Vec<_> =
        std::fs::read_dir(&source).expect("source table").map(|e| e.unwrap().file_name()).collect();
    let mut linked = 0;
    for i in 0..EXTRA_TABLES {
        let table = root.join(format!("bench_{}/events_{i:02}", i % EXTRA_SCHEMAS));
        for partition in &partitions {
            let dir = table.join(partition);
            std::fs::create_dir_all(&dir).expect("partition folder");
            std::fs::hard_link(source.join(partition).join("part-0.parquet"), dir.join("part-0.parquet"))
                .expect("hard link");
            linked += 1;
        }
    }
    linked
}

fn median(mut times: Vec<Duration>) -> (Duration, Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2], times[times.len() - 1])
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = SampleOptions {
        first_day: NaiveDate::from_ymd_opt(2016, 1, 1).unwrap(),
        last_day: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        merchants: 5,
        seed: 1,
    };
    let t = Instant::now();
    write_sample(dir.path(), &opts).expect("sample warehouse");
    let linked = add_tables(dir.path());
    eprintln!(
        "setup: wrote a 3,653-day sample warehouse and {EXTRA_TABLES} more tables ({linked} linked files) in {:.1?}",
        t.elapsed()
    );

    let spec_text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/revenue-tax-fix.yaml"))
        .expect("fixture spec")
        .replace("start: 2024-12-01", "start: 2016-01-01")
        .replace("end: 2026-05-31", "end: 2025-12-31")
        .replace("exclude: [2025-12-25]", "exclude: []")
        .replace("max_partitions: 1000", "max_partitions: 4000")
        .replace("warehouse: ../fixtures/warehouse", &format!("warehouse: {}", dir.path().display()));
    let spec_path = dir.path().join("ten-years.yaml");
    std::fs::write(&spec_path, spec_text).expect("spec");

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut times: Vec<Duration> = Vec::new();
    let mut stages: Vec<(Duration, Duration)> = Vec::new();
    let mut shape = (0, 0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        let (partitions, batches, statements, build, rendering) = runtime.block_on(async {
            let spec = Spec::load(&spec_path).expect("spec loads");
            let wh = Warehouse::open(spec.source.warehouse.as_deref().unwrap()).expect("warehouse");
            let b = Instant::now();
            let plan = Plan::build(spec, &wh).await.expect("plan");
            let build = b.elapsed();
            let r = Instant::now();
            let rendered = render(&plan, &Templates::default()).expect("render");
            (plan.partitions.len(), plan.batches.len(), rendered.statements().count(), build, r.elapsed())
        });
        times.push(t.elapsed());
        stages.push((build, rendering));
        shape = (partitions, batches, statements);
    }
    stages.sort();
    // The same compile as a user meets it: the release binary, printing every statement.
    let mut cli = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_backfill"))
            .arg("plan")
            .arg(&spec_path)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("backfill plan starts");
        assert!(status.success(), "backfill plan failed: {status}");
        cli.push(t.elapsed());
    }
    let tables = runtime.block_on(Warehouse::open(&dir.path().display().to_string()).unwrap().tables()).unwrap();
    println!(
        "plan, 10-year daily range in a warehouse of {} tables: {} partitions, {} batches, \
         {} statements rendered and parsed",
        tables.len(),
        shape.0,
        shape.1,
        shape.2
    );
    let (min, mid, max) = median(times);
    println!("  wall time over {RUNS} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms", ms(min), ms(mid), ms(max));
    let (build, rendering) = stages[RUNS / 2];
    println!(
        "  of which (median run): plan (listing, footers, checks) {:.0} ms, render and parse {:.0} ms",
        ms(build),
        ms(rendering)
    );
    let (min, mid, max) = median(cli);
    println!(
        "  `backfill plan` (the binary, its {} statements to /dev/null) over {RUNS} runs: \
         min {:.0} ms, median {:.0} ms, max {:.0} ms",
        shape.2,
        ms(min),
        ms(mid),
        ms(max)
    );

    // A session over the whole warehouse, then one query reading one partition of the base.
    let query = "SELECT count(*) AS n FROM finance.daily_revenue WHERE revenue_date = DATE '2020-06-01'";
    let (mut opens, mut queries, mut totals) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (open, ran) = runtime.block_on(async {
            let t = Instant::now();
            let wh = Warehouse::open(&dir.path().display().to_string()).expect("warehouse");
            let current = catalog::latest(&wh).await.expect("catalog");
            let ctx = session::open(&wh, &current, &SessionOptions::default()).await.expect("session");
            let open = t.elapsed();
            let q = Instant::now();
            let rows = ctx.sql(query).await.expect("plans").collect().await.expect("runs");
            assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
            (open, q.elapsed())
        });
        opens.push(open);
        queries.push(ran);
        totals.push(open + ran);
    }
    println!("session over the same warehouse, then `{query}`");
    let (min, mid, max) = median(totals);
    println!("  wall time over {RUNS} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms", ms(min), ms(mid), ms(max));
    println!(
        "  of which (medians): open the session {:.0} ms, the query (registering the base table on first use) {:.0} ms",
        ms(median(opens).1),
        ms(median(queries).1)
    );
}
