//! The sample warehouse: a deterministic generator for the bundled fixture
//! (`fixtures/warehouse`, made by `cargo run --example make_fixture`), the benchmarks
//! and tests.
//!
//! It writes `staging.revenue_events` (one row per day and merchant: gross revenue and
//! the tax actually charged, at a merchant's rate of 6–10 %) and `finance.daily_revenue`
//! built with the tax bug: net revenue computed with a flat 7 % tax instead of the
//! charged amount. Recomputing with `gross_revenue - tax_amount` lowers total net
//! revenue by about 1.1 %, inside the fixture spec's expected "-1.5% to -0.8%";
//! merchants charged exactly 7 % are unchanged.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleOptions {
    /// First day written (inclusive).
    pub first_day: NaiveDate,
    /// Last day written (inclusive).
    pub last_day: NaiveDate,
    /// Merchants per day; merchant ids are 1..=merchants.
    pub merchants: u32,
    /// Seed of the pseudo-random gross revenue.
    pub seed: u64,
}

impl Default for SampleOptions {
    /// The bundled fixture: 2024-11-01..2026-06-30, 20 merchants, seed 2841.
    fn default() -> Self {
        Self {
            first_day: NaiveDate::from_ymd_opt(2024, 11, 1).expect("valid"),
            last_day: NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid"),
            merchants: 20,
            seed: 2841,
        }
    }
}

/// The catalog version the fixture starts with: views downstream of the base table
/// (one directly, one through another view) and one unrelated view.
///
/// (`concat!` only to keep the source within 120 columns: the first view's SQL is one
/// line of JSON.)
pub const FIXTURE_CATALOG: &str = concat!(
    r#"{
  "version": 1,
  "views": {
    "reporting.revenue_by_month": {
      "sql": "SELECT date_trunc('month', revenue_date) AS month, sum(net_revenue) AS net_revenue "#,
    r#"FROM finance.daily_revenue GROUP BY 1"
    },
    "reporting.revenue_ytd": {
      "sql": "SELECT sum(net_revenue) AS net_revenue FROM reporting.revenue_by_month WHERE month >= DATE '2026-01-01'"
    },
    "reporting.event_volume": {
      "sql": "SELECT revenue_date, count(*) AS merchants FROM staging.revenue_events GROUP BY revenue_date"
    }
  },
  "tags": {},
  "releases": []
}
"#
);

/// splitmix64: a fixed, well-known mixing function, so the data never depends on a
/// crate's RNG algorithm changing.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Tax rate of a merchant in basis points: 600, 700, 800, 900 or 1000.
pub fn tax_rate_bp(merchant: i64) -> i64 {
    600 + (merchant % 5) * 100
}

fn money() -> DataType {
    DataType::Decimal128(18, 2)
}

fn write_parquet(path: &Path, batch: &RecordBatch) -> std::io::Result<()> {
    std::fs::create_dir_all(path.parent().expect("file in a folder"))?;
    let file = File::create(path)?;
    // Chunk-level statistics keep these tiny files small; page indexes would double them.
    let props = WriterProperties::builder().set_statistics_enabled(EnabledStatistics::Chunk).build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(std::io::Error::other)?;
    writer.write(batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

/// Write the sample tables and catalog under `root` (created if missing).
/// Same options, same bytes.
///
/// Errors: any I/O error writing files.
pub fn write_sample(root: &Path, opts: &SampleOptions) -> std::io::Result<()> {
    let events_schema = Arc::new(Schema::new(vec![
        Field::new("merchant_id", DataType::Int64, false),
        Field::new("gross_revenue", money(), false),
        Field::new("tax_amount", money(), false),
    ]));
    let revenue_schema = Arc::new(Schema::new(vec![
        Field::new("merchant_id", DataType::Int64, false),
        Field::new("gross_revenue", money(), false),
        Field::new("net_revenue", money(), false),
    ]));
    for day in opts.first_day.iter_days().take_while(|d| *d <= opts.last_day) {
        let ids: Vec<i64> = (1..=i64::from(opts.merchants)).collect();
        let day_seed = opts.seed ^ (day.to_string().bytes().fold(0u64, |h, b| mix(h ^ u64::from(b))));
        // Gross revenue in cents: 500.00 ..= 5,000.00.
        let gross: Vec<i128> =
            ids.iter().map(|m| 50_000 + i128::from((mix(day_seed ^ *m as u64) % 450_001) as u32)).collect();
        // Tax actually charged, rounded half up to the cent.
        let tax: Vec<i128> =
            ids.iter().zip(&gross).map(|(m, g)| (g * i128::from(tax_rate_bp(*m)) + 5_000) / 10_000).collect();
        // The bug: a flat 7 % instead of the charged tax.
        let net_bug: Vec<i128> = gross.iter().map(|g| g - (g * 700 + 5_000) / 10_000).collect();
        let dec = |v: &[i128]| -> ArrayRef {
            Arc::new(Decimal128Array::from(v.to_vec()).with_precision_and_scale(18, 2).expect("fits"))
        };
        let id_array: ArrayRef = Arc::new(Int64Array::from(ids.clone()));
        let events = RecordBatch::try_new(events_schema.clone(), vec![id_array.clone(), dec(&gross), dec(&tax)])
            .map_err(std::io::Error::other)?;
        let revenue = RecordBatch::try_new(revenue_schema.clone(), vec![id_array, dec(&gross), dec(&net_bug)])
            .map_err(std::io::Error::other)?;
        write_parquet(&root.join(format!("staging/revenue_events/revenue_date={day}/part-0.parquet")), &events)?;
        write_parquet(&root.join(format!("finance/daily_revenue/revenue_date={day}/part-0.parquet")), &revenue)?;
    }
    std::fs::create_dir_all(root.join("_catalog"))?;
    std::fs::write(root.join("_catalog/v00000001.json"), FIXTURE_CATALOG)?;
    Ok(())
}
