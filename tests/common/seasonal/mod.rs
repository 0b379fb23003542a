//! A seasonal warehouse the tests make themselves, modelled on airline on-time data:
//! one row per (flight date, carrier) with a strongly seasonal daily average delay.
//!
//! Layout (DESIGN.md, "Warehouse layout"), one file per partition:
//!
//! ```text
//! <wh>/ops/flight_delays/flight_date=YYYY-MM-DD/part-0.parquet          the base table
//! <wh>/staging/flight_corrections/flight_date=YYYY-MM-DD/part-0.parquet the corrected values
//! ```
//!
//! Both tables have the columns, in this order (the partition column `flight_date`
//! lives only in the folder names): `carrier` Utf8 (nullable), `flights` Int64,
//! `avg_arr_delay` Float64 (nullable), `fees` Decimal128(18, 2). Days are
//! 2023-01-01..=2024-12-31 (731 partitions: 2024 is a leap year), 16 carriers a day
//! ([`CARRIERS`]), so 11,696 rows per table by default. No catalog is written (the
//! tool reads a missing catalog as an empty version 0).
//!
//! # The formulas (so a reader can check every figure)
//!
//! Carrier `c` is the index into [`CARRIERS`] (0..=15); the extra NULL-carrier row of
//! [`SeasonalOptions::null_carrier_rows`] uses `c = 16`. For a day `d`, `days` is the
//! number of days since 1970-01-01, `doy` its day of the year (1..=366) and `month`
//! its month (1..=12).
//!
//! - Random draws: a splitmix64 stream (see [`SplitMix64`]) seeded with
//!   `SEED ^ (days << 8) ^ c`, where [`SEED`] = `0xF11D_3A75`. Its first three outputs
//!   `r1, r2, r3` are used, in this order, for flights, delay noise and fees.
//! - `flights = 50 + r1 % 351` (50..=400); identical in both tables.
//! - `season(doy) = (1 - cos(2π·(doy - 15) / 365.25)) / 2`: 0 on 15 January, 1 in
//!   mid-July.
//! - `noise = (r2 >> 11) / 2^53 · 3 - 1.5`, uniform in [-1.5, 1.5).
//! - base `avg_arr_delay = round2(4 + 8·season(doy) + 0.5·(c % 8) + noise)`, minutes,
//!   where `round2(x) = round(x·100) / 100` in f64 arithmetic (`f64::round`: half away
//!   from zero, decided on the f64 value of `x·100`); always at least 2.5 (positive).
//! - `factor(month) = 1 + (5 + 12·(1 - cos(2π·(month - 1) / 12)) / 2) / 100`: +5 % in
//!   January, +5.8 % Feb, +8 % Mar, +11 % Apr, +14 % May, +16.2 % Jun, +17 % in July, and
//!   symmetrically back down to +5.8 % in December.
//! - corrected `avg_arr_delay = round2(base avg_arr_delay · factor(month))`, the product
//!   taken in f64 (many products land near half a cent, so round half-to-even, as
//!   Python's `round`, gives slightly different figures).
//!   January 2023's avg(avg_arr_delay) therefore rises by 5 % (up to rounding to the
//!   cent), the whole two years' by about 12 % (summer days weigh more: they have both
//!   the larger delays and the larger factors).
//! - base `fees` in cents: `100_000 + r3 % 8_900_001` (1,000.00..=90,000.00).
//! - corrected `fees` in cents, exactly in integers: for carriers with `c % 4 == 0`
//!   (AA, F9, NK, UA) `(cents · 107 + 50) / 100` (+7 % rounded half up to the cent); for
//!   every other carrier, and for the NULL-carrier row, unchanged.
//!
//! The figures this gives with the default options (checked by tests/seasonal_fixture.rs
//! through [`independent`], and reproduced by a separate Python transcription of these
//! formulas), old (base) → new (corrections):
//!
//! | figure | over 2023-01-01..2024-12-31 | over January 2023 |
//! | --- | --- | --- |
//! | avg(avg_arr_delay) | 9.729445 → 10.920671 (+12.24 %) | 5.736270 → 6.023145 (+5.001 %) |
//! | max(avg_arr_delay) | 16.93 → 19.81 | |
//! | count(DISTINCT carrier) | 16 → 16 | |
//! | sum(fees) | 531907329.76 → 541247117.78 (+1.756 %) | |
//!
//! Options (both default to false):
//! - `null_delay_rows`: carrier "ZZ" (`c = 15`) has a NULL `avg_arr_delay` in both
//!   tables every day (all its flights cancelled); its other columns stay as above.
//! - `null_carrier_rows`: every day gets a 17th row whose carrier is NULL, computed with
//!   `c = 16` (so a carrier offset of `0.5·(16 % 8) = 0`); in the corrections its delay
//!   is multiplied by `factor(month)` like any other, while flights and fees stay the
//!   same.

#![allow(dead_code)]

mod independent;

pub use independent::{independent, scalar_text};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{ArrayRef, Decimal128Array, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;

/// The 16 carriers, by index `c`: 15 real two-letter codes and the fictional "ZZ" last.
pub const CARRIERS: [&str; 16] =
    ["AA", "AS", "B6", "DL", "F9", "G4", "HA", "MQ", "NK", "OH", "OO", "UA", "WN", "YX", "9E", "ZZ"];

/// The seed every random draw derives from.
pub const SEED: u64 = 0xF11D_3A75;

/// The base table, its corrections, and the partition key.
pub const BASE: &str = "ops.flight_delays";
pub const SOURCE: &str = "staging.flight_corrections";
pub const KEY: &str = "flight_date";

/// First and last day written (inclusive).
pub fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid")
}
pub fn last_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 12, 31).expect("valid")
}

/// What to generate besides the 16 carriers a day; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct SeasonalOptions {
    /// Carrier "ZZ" has a NULL `avg_arr_delay` every day, in both tables.
    pub null_delay_rows: bool,
    /// One more row a day whose carrier is NULL, in both tables (its delay corrected).
    pub null_carrier_rows: bool,
}

/// splitmix64 (Steele, Lea, Flood 2014): `state += 0x9E3779B97F4A7C15`, then the output
/// is the state mixed by two xor-shift-multiply rounds. Fixed here so the data never
/// depends on a crate's RNG.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `round(x·100) / 100`.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `(1 - cos(2π·(doy - 15) / 365.25)) / 2`: 0 in mid-January, 1 in mid-July.
pub fn season(doy: u32) -> f64 {
    (1.0 - (2.0 * std::f64::consts::PI * (f64::from(doy) - 15.0) / 365.25).cos()) / 2.0
}

/// The delay correction factor of a month: 1.05 in January up to 1.17 in July.
pub fn factor(month: u32) -> f64 {
    1.0 + (5.0 + 12.0 * (1.0 - (2.0 * std::f64::consts::PI * (f64::from(month) - 1.0) / 12.0).cos()) / 2.0) / 100.0
}

/// Whether carrier index `c` has its fees corrected (+7 %).
pub fn fee_corrected(c: u64) -> bool {
    c < 16 && c % 4 == 0
}

/// One generated row, base and corrected values.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub carrier: Option<&'static str>,
    pub flights: i64,
    pub delay: Option<f64>,
    pub new_delay: Option<f64>,
    pub fees_cents: i128,
    pub new_fees_cents: i128,
}

/// The row of day `day` and carrier index `c` (16 = the NULL-carrier row).
pub fn row(day: NaiveDate, c: u64, opts: &SeasonalOptions) -> Row {
    let days = (day - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid")).num_days() as u64;
    let mut rng = SplitMix64(SEED ^ (days << 8) ^ c);
    let flights = 50 + (rng.next_u64() % 351) as i64;
    let noise = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 3.0 - 1.5;
    let fees_cents = 100_000 + i128::from(rng.next_u64() % 8_900_001);
    let delay = round2(4.0 + 8.0 * season(day.ordinal()) + 0.5 * (c % 8) as f64 + noise);
    let cancelled = opts.null_delay_rows && c == 15;
    let new_fees_cents = if fee_corrected(c) { (fees_cents * 107 + 50) / 100 } else { fees_cents };
    Row {
        carrier: CARRIERS.get(c as usize).copied(),
        flights,
        delay: (!cancelled).then_some(delay),
        new_delay: (!cancelled).then(|| round2(delay * factor(day.month()))),
        fees_cents,
        new_fees_cents,
    }
}

/// The file schema of both tables (without the partition column).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("carrier", DataType::Utf8, true),
        Field::new("flights", DataType::Int64, false),
        Field::new("avg_arr_delay", DataType::Float64, true),
        Field::new("fees", DataType::Decimal128(18, 2), false),
    ]))
}

fn batch(rows: &[Row], corrected: bool) -> RecordBatch {
    let carrier: ArrayRef = Arc::new(rows.iter().map(|r| r.carrier).collect::<StringArray>());
    let flights: ArrayRef = Arc::new(rows.iter().map(|r| r.flights).collect::<Int64Array>());
    let delay: ArrayRef =
        Arc::new(rows.iter().map(|r| if corrected { r.new_delay } else { r.delay }).collect::<Float64Array>());
    let cents: Vec<i128> = rows.iter().map(|r| if corrected { r.new_fees_cents } else { r.fees_cents }).collect();
    let fees: ArrayRef =
        Arc::new(Decimal128Array::from(cents).with_precision_and_scale(18, 2).expect("decimal(18, 2)"));
    RecordBatch::try_new(schema(), vec![carrier, flights, delay, fees]).expect("batch")
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().expect("file in a folder")).expect("mkdir");
    let file = std::fs::File::create(path).expect("create parquet file");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    writer.write(batch).expect("write");
    writer.close().expect("close");
}

/// Write `ops.flight_delays` and `staging.flight_corrections` under `dir` (created if
/// missing), as the module docs describe. Same options, same bytes.
pub fn seasonal_warehouse(dir: &Path, opts: &SeasonalOptions) {
    let carriers: u64 = if opts.null_carrier_rows { 17 } else { 16 };
    for day in first_day().iter_days().take_while(|d| *d <= last_day()) {
        let rows: Vec<Row> = (0..carriers).map(|c| row(day, c, opts)).collect();
        let part = format!("{KEY}={day}");
        write_parquet(&dir.join("ops/flight_delays").join(&part).join("part-0.parquet"), &batch(&rows, false));
        write_parquet(&dir.join("staging/flight_corrections").join(&part).join("part-0.parquet"), &batch(&rows, true));
    }
}

/// The spec of the delay correction over the seasonal warehouse `wh`.
///
/// Its `avg_delay` metric expects "+5% to +20%" (the figure is about +12 %).
pub const SPEC: &str = r#"# The seasonal fixture's correction (tests/common/seasonal/mod.rs): delays recomputed with
# a month-dependent factor, fees of four carriers corrected by +7 %.
backfill_id: flight-delay-fix
owner: ops-data
reason:
  issue: OPS-731
  change: Correct daily average arrival delays and carrier fees
  kind: recompute
warehouse: WAREHOUSE
target:
  table: ops.flight_delays
  partition_key: flight_date
  keys: [carrier]
source_range:
  start: 2023-01-01
  end: 2024-12-31
  exclude: []
transform:
  sql: >
    SELECT flight_date, carrier, flights, avg_arr_delay, fees FROM staging.flight_corrections
    WHERE flight_date BETWEEN {{ batch_start }} AND {{ batch_end }}
execution:
  partitions_per_batch: 31
  max_concurrency: 2
  max_partitions: 1000
validation:
  row_count_tolerance: 0
  unique_keys: true
  metrics:
    - name: avg_delay
      sql: avg(avg_arr_delay)
      expected_delta: "+5% to +20%"
    - name: max_delay
      sql: max(avg_arr_delay)
    - name: carriers
      sql: count(DISTINCT carrier)
    - name: fees
      sql: sum(fees)
  sample_rows: 5
"#;

/// Write [`SPEC`] pointed at `wh` (absolute path in `warehouse:`) into
/// `dir/flight-delay-fix.yaml`, after the literal replacements `edits` (each `from`
/// must occur), and return its path.
pub fn seasonal_spec(dir: &Path, wh: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = SPEC.replace("warehouse: WAREHOUSE", &format!("warehouse: {}", wh.display()));
    for (from, to) in edits {
        assert!(text.contains(from), "the seasonal spec lacks {from:?}");
        text = text.replace(from, to);
    }
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("flight-delay-fix.yaml");
    std::fs::write(&path, text).expect("write spec");
    path
}
