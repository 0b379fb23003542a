//! `cargo bench --bench tpch [-- SCALE_FACTOR [WAREHOUSE]]`: the 547-partition
//! `specs/tpch-revenue-fix.yaml` run (`run --execute`: write, commit, reconcile and
//! checkpoint per batch) against one bare DataFusion `COPY … PARTITIONED BY` writing
//! the same partitions in the same process. Prints both wall times, their ratio, the
//! writes' and the reconciliation's summed times and the peak RSS of the backfill run;
//! then the same figures for weekly batches (7 partitions), where a batch's fixed cost
//! weighs more. Scale factor 1 by default; a given WAREHOUSE (built by the
//! `tpch_warehouse` example) is copied instead of generating one.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, RefreshKind, System};

#[path = "../tests/common/tpch.rs"]
mod tpch;

use backfill::execute::progress::Silent;
use backfill::execute::run::{execute, ExecuteOptions};
use backfill::execute::session::{self, SessionOptions};
use backfill::plan::Plan;
use backfill::reconcile::{BatchReconciler, Checkpoint};
use backfill::render::{render, Templates, WAREHOUSE_URL};
use backfill::spec::Spec;
use backfill::warehouse::Warehouse;

/// Samples this process's resident set size (through sysinfo) every 10 ms on a thread of
/// its own until [`RssSampler::peak`]. sysinfo reports the current RSS only, so the peak is
/// the largest sample: a lower bound of the true peak, off by at most 10 ms of growth.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Option<u64>>,
}

impl RssSampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let pid = sysinfo::get_current_pid().ok()?;
            let mut system = System::new_with_specifics(RefreshKind::nothing()).ok()?;
            let memory = ProcessRefreshKind::nothing().with_memory();
            let mut peak = 0;
            loop {
                system.refresh_processes_specifics(ProcessesToUpdate::Some(&[pid]), false, memory);
                peak = peak.max(system.process(pid)?.memory());
                if flag.load(Ordering::Relaxed) {
                    return Some(peak);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Self { stop, thread }
    }

    /// The largest RSS sampled, bytes; `None` where sysinfo cannot read it.
    fn peak(self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().ok().flatten()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// What one measured run did.
struct Run {
    time: std::time::Duration,
    rows: u64,
    batches: usize,
    partitions: usize,
    write_ms: f64,
    reconcile_ms: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    // `tpch generate SF DIR`: the child that writes the data, so that generating it does
    // not count towards the measured run's peak RSS.
    if args.first().map(String::as_str) == Some("generate") {
        let sf: f64 = args[1].parse().unwrap();
        runtime.block_on(tpch::write_tpch(Path::new(&args[2]), sf)).unwrap();
        return;
    }
    let scale_factor: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let dir = tempfile::tempdir().unwrap();
    let wh_dir = dir.path().join("warehouse");
    let t = Instant::now();
    match args.get(1) {
        Some(existing) => copy_dir(Path::new(existing), &wh_dir),
        None => {
            let status = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["generate", &scale_factor.to_string()])
                .arg(&wh_dir)
                .status()
                .unwrap();
            assert!(status.success(), "generating the TPC-H warehouse failed");
        }
    }
    // A second copy for the run with weekly batches, made before anything is written.
    let weekly_dir = dir.path().join("warehouse-weekly");
    copy_dir(&wh_dir, &weekly_dir);
    eprintln!("setup: TPC-H warehouse (scale factor {scale_factor}) ready in {:.1?}", t.elapsed());

    let spec_text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/tpch-revenue-fix.yaml")).unwrap();
    let run = |wh_dir: &Path, batch: Option<u32>, report: bool| {
        let mut text =
            spec_text.replace("warehouse: ../target/tpch-warehouse", &format!("warehouse: {}", wh_dir.display()));
        if let Some(n) = batch {
            text = regex::Regex::new(r"partitions_per_batch: \d+")
                .unwrap()
                .replace(&text, format!("partitions_per_batch: {n}").as_str())
                .into_owned();
        }
        let spec_path = wh_dir.with_extension("yaml");
        std::fs::write(&spec_path, text).unwrap();
        runtime.block_on(async {
            let t = Instant::now();
            let spec = Spec::load(&spec_path).unwrap();
            let wh = Warehouse::open(&wh_dir.display().to_string()).unwrap();
            let plan = Plan::build(spec, &wh).await.unwrap();
            let rendered = render(&plan, &Templates::default()).unwrap();
            let checks = std::sync::Arc::new(BatchReconciler::new(&plan, &rendered, &wh));
            let summary =
                execute(&plan, &rendered, &wh, &ExecuteOptions::default(), std::sync::Arc::new(Silent), checks.clone())
                    .await
                    .unwrap();
            let elapsed = t.elapsed();
            if report {
                // The run's HTML report, kept for a look in a browser.
                let dir = backfill::state::BackfillDir::new(&plan.spec.backfill_id);
                let checkpoints: Vec<Checkpoint> = backfill::state::checkpoints(&wh, &dir).await.unwrap();
                let html = backfill::report::html::render(&backfill::report::build(
                    &plan,
                    &rendered.fingerprint,
                    &checkpoints,
                    checks.range().as_ref(),
                ))
                .unwrap();
                let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tpch-report.html");
                std::fs::write(&out, html).unwrap();
                eprintln!("report: {}", out.display());
            }
            Run {
                time: elapsed,
                rows: summary.rows_written,
                batches: plan.batches.len(),
                partitions: plan.partitions.len(),
                write_ms: summary.write_ms,
                reconcile_ms: summary.reconcile_ms,
            }
        })
    };
    let sampler = RssSampler::start();
    let shipped = run(&wh_dir, None, true);
    let rss = sampler.peak();

    let bare_time = runtime.block_on(async {
        let wh = Warehouse::open(&wh_dir.display().to_string()).unwrap();
        let catalog = backfill::catalog::latest(&wh).await.unwrap();
        let ctx = session::open(&wh, &catalog, &SessionOptions::default()).await.unwrap();
        let sql = format!(
            "COPY (SELECT ship_date AS revenue_date, l_returnflag AS return_flag, l_linestatus AS line_status, \
                    l_shipmode AS ship_mode, sum(l_extendedprice) AS gross_revenue, \
                    sum(l_extendedprice * (1 - l_discount)) AS net_revenue, count(*) AS line_items \
             FROM staging.lineitem WHERE ship_date BETWEEN DATE '1995-01-01' AND DATE '1996-06-30' \
             GROUP BY 1, 2, 3, 4) \
             TO '{WAREHOUSE_URL}bench_bare/' STORED AS PARQUET PARTITIONED BY (revenue_date)"
        );
        let t = Instant::now();
        ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        t.elapsed()
    });
    let bare_partitions = std::fs::read_dir(wh_dir.join("bench_bare")).map(|d| d.count()).unwrap_or(0);

    let weekly = run(&weekly_dir, Some(7), false);

    println!(
        "TPC-H scale factor {scale_factor}, specs/tpch-revenue-fix.yaml: {} partitions in {} batches, {} rows written",
        shipped.partitions, shipped.batches, shipped.rows
    );
    println!("  bare COPY … PARTITIONED BY {:>8.2?}  ({bare_partitions} partitions, one statement)", bare_time);
    for (name, r) in [("as shipped", &shipped), ("weekly batches (7 partitions)", &weekly)] {
        println!("  backfill run --execute, {name}: {} batches", r.batches);
        println!("    wall time               {:>8.2?}  (write, commit, reconcile, checkpoint per batch)", r.time);
        println!("    ratio to the bare COPY  {:>8.2}", r.time.as_secs_f64() / bare_time.as_secs_f64());
        println!("    batch writes, summed    {:>8.0} ms", r.write_ms);
        println!(
            "    reconciliation, summed  {:>8.0} ms  ({:.2} of the writes; \
             base and shadow reads and every reconciliation statement)",
            r.reconcile_ms,
            r.reconcile_ms / r.write_ms
        );
    }
    match rss {
        Some(bytes) => println!("  peak RSS, run as shipped {:>8.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
        None => println!("  peak RSS of the run     unknown (sysinfo cannot read it here)"),
    }
}
