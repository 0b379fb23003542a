//! `cargo bench --bench tpch [-- SCALE_FACTOR [WAREHOUSE]]`: the 547-partition
//! `specs/tpch-revenue-fix.yaml` with weekly batches (79 batches) run three ways, side
//! by side: `run --execute` (write, commit, reconcile and checkpoint per batch) on the
//! embedded DataFusion engine, the same on an in-process Ballista standalone cluster,
//! and one bare DataFusion `COPY … PARTITIONED BY` writing the same partitions. Each
//! runs in a child process of its own on a fresh copy of the warehouse, so that its
//! peak RSS is its own. Prints wall time, source rows per second (the line items in
//! range over the wall time), peak RSS and the ratio to the bare COPY. Scale factor 1 by
//! default; a given WAREHOUSE (built by the `tpch_warehouse` example) is copied instead
//! of generating one.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/common/tpch.rs"]
mod tpch;

use backfill::execute::progress::Silent;
use backfill::execute::run::{execute, ExecuteOptions};
use backfill::execute::session::{self, SessionOptions};
use backfill::plan::Plan;
use backfill::reconcile::BatchReconciler;
use backfill::render::{render, Templates, WAREHOUSE_URL};
use backfill::spec::{EngineKind, Spec};
use backfill::warehouse::Warehouse;

/// This process's peak resident set size, bytes, as Linux keeps it (`VmHWM` in
/// `/proc/self/status`); `None` elsewhere, printed as `n/a`.
fn high_water_mark() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
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

/// The three ways of writing the corrected partitions.
const MODES: [&str; 3] = ["embedded", "ballista", "bare"];

/// `tpch measure MODE WAREHOUSE`, in a child: one run; prints `wall_ms peak_rss_bytes`.
fn measure(runtime: &tokio::runtime::Runtime, mode: &str, wh_dir: &Path) {
    let t = Instant::now();
    runtime.block_on(async {
        let wh = Warehouse::open(&wh_dir.display().to_string()).unwrap();
        if mode == "bare" {
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
            ctx.sql(&sql).await.unwrap().collect().await.unwrap();
            return;
        }
        let spec = Spec::load(&wh_dir.with_extension("yaml")).unwrap();
        let plan = Plan::build(spec, &wh).await.unwrap();
        let rendered = render(&plan, &Templates::default()).unwrap();
        let checks = Arc::new(BatchReconciler::new(&plan, &rendered, &wh));
        let engine = if mode == "ballista" { EngineKind::Ballista } else { EngineKind::DataFusion };
        let opts = ExecuteOptions { engine, ..ExecuteOptions::default() };
        let summary = execute(&plan, &rendered, &wh, &opts, Arc::new(Silent), checks).await.unwrap();
        assert_eq!(summary.done as usize, plan.batches.len());
    });
    let wall = t.elapsed();
    println!("{} {}", wall.as_millis(), high_water_mark().unwrap_or(0));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    // `tpch generate SF DIR`: the child that writes the data, so that generating it does
    // not count towards any measured run's peak RSS.
    match args.first().map(String::as_str) {
        Some("generate") => {
            let sf: f64 = args[1].parse().unwrap();
            runtime.block_on(tpch::write_tpch(Path::new(&args[2]), sf)).unwrap();
            return;
        }
        Some("measure") => return measure(&runtime, &args[1], Path::new(&args[2])),
        _ => {}
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
    eprintln!("setup: TPC-H warehouse (scale factor {scale_factor}) ready in {:.1?}", t.elapsed());
    let source_rows: u64 = runtime.block_on(async {
        let wh = Warehouse::open(&wh_dir.display().to_string()).unwrap();
        let catalog = backfill::catalog::latest(&wh).await.unwrap();
        let ctx = session::open(&wh, &catalog, &SessionOptions::default()).await.unwrap();
        let sql =
            "SELECT count(*) FROM staging.lineitem WHERE ship_date BETWEEN DATE '1995-01-01' AND DATE '1996-06-30'";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let column = batches[0].column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap();
        column.value(0) as u64
    });
    let spec_text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/specs/tpch-revenue-fix.yaml")).unwrap();
    let mut figures = Vec::new();
    for mode in MODES {
        let copy = dir.path().join(mode);
        copy_dir(&wh_dir, &copy);
        let text = spec_text
            .replace("warehouse: ../target/tpch-warehouse", &format!("warehouse: {}", copy.display()))
            .replace("partitions_per_batch: 31", "partitions_per_batch: 7");
        std::fs::write(copy.with_extension("yaml"), text).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["measure", mode])
            .arg(&copy)
            .output()
            .unwrap();
        assert!(out.status.success(), "{mode}: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string();
        let (ms, rss) = line.split_once(' ').unwrap();
        figures.push((mode, Duration::from_millis(ms.parse().unwrap()), rss.parse::<u64>().unwrap()));
        std::fs::remove_dir_all(&copy).unwrap();
    }
    let bare = figures.iter().find(|f| f.0 == "bare").unwrap().1;
    println!(
        "TPC-H scale factor {scale_factor}, specs/tpch-revenue-fix.yaml with weekly batches: 547 partitions, \
         79 batches, {source_rows} line items in range"
    );
    println!("  {:<44} {:>10} {:>14} {:>13} {:>8}", "", "wall", "rows/s", "peak RSS", "vs COPY");
    for (mode, wall, rss) in &figures {
        let name = match *mode {
            "embedded" => "run --execute, embedded DataFusion",
            "ballista" => "run --execute --engine ballista (standalone)",
            _ => "bare DataFusion COPY … PARTITIONED BY",
        };
        let rss = match *rss {
            0 => "n/a".to_string(),
            bytes => format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
        };
        println!(
            "  {name:<44} {:>9.1}s {:>14.0} {rss:>13} {:>7.2}x",
            wall.as_secs_f64(),
            source_rows as f64 / wall.as_secs_f64(),
            wall.as_secs_f64() / bare.as_secs_f64()
        );
    }
}
