//! Build a TPC-H warehouse for `specs/tpch-revenue-fix.yaml`:
//!
//! ```sh
//! cargo run --release --example tpch_warehouse -- --scale-factor 1 --out target/tpch-warehouse
//! ```
//!
//! `staging.lineitem` is split into daily `ship_date` partitions; `finance.daily_revenue`
//! holds net revenue per (revenue_date, return flag, line status, ship mode), computed
//! tax-inclusive (the bug the spec corrects).

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

#[path = "../tests/common/tpch.rs"]
mod tpch;

/// Build a TPC-H sample warehouse.
#[derive(Parser)]
struct Args {
    /// TPC-H scale factor (1 ≈ 6 million line items).
    #[arg(long, default_value_t = 1.0)]
    scale_factor: f64,
    /// Where to write the warehouse (replaced if it exists).
    #[arg(long, default_value = "target/tpch-warehouse")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    if args.out.exists() {
        std::fs::remove_dir_all(&args.out).map_err(|e| e.to_string())?;
    }
    let t = Instant::now();
    tpch::write_tpch(&args.out, args.scale_factor).await?;
    println!(
        "wrote a TPC-H warehouse (scale factor {}) to {} in {:.1?}",
        args.scale_factor,
        args.out.display(),
        t.elapsed()
    );
    Ok(())
}
