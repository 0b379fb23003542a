//! `cargo bench --bench plan`: how long `backfill plan` takes for a 10-year daily range.
//!
//! Builds a sample warehouse of 2016-01-01..2025-12-31 (3,653 daily partitions in each
//! of two tables, 5 merchants a day) in a temp folder, then times the whole compile —
//! spec load, warehouse listing, 3,653 footer reads, batching, rendering ~4,700
//! statements and parsing each back — and prints the figures. Not a pass/fail test.

use std::time::{Duration, Instant};

use backfill::plan::Plan;
use backfill::render::{render, Templates};
use backfill::sample::{write_sample, SampleOptions};
use backfill::spec::Spec;
use backfill::warehouse::Warehouse;
use chrono::NaiveDate;

const RUNS: usize = 5;

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
    eprintln!("setup: wrote a 3,653-day sample warehouse in {:.1?}", t.elapsed());

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
    times.sort();
    stages.sort();
    println!(
        "plan, 10-year daily range: {} partitions, {} batches, {} statements rendered and parsed",
        shape.0, shape.1, shape.2
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "  wall time over {RUNS} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms(times[0]),
        ms(times[RUNS / 2]),
        ms(times[RUNS - 1])
    );
    let (build, rendering) = stages[RUNS / 2];
    println!(
        "  of which (median run): plan (listing, footers, checks) {:.0} ms, render and parse {:.0} ms",
        ms(build),
        ms(rendering)
    );
}
