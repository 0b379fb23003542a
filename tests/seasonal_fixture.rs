//! The seasonal fixture (tests/common/seasonal/) is what its docs say: 731 daily
//! partitions of 16 carriers, a +5 % delay correction in January and about +12 % over
//! the two years, figures checked by the independent session, and a spec that validates.

use crate::common::backfill;
use crate::common::seasonal::{independent, scalar_text, seasonal_spec, seasonal_warehouse, SeasonalOptions};

/// A float cell rounded to 6 decimals: the sum's order (and so its last bits) may vary.
fn float6(batches: &[datafusion::arrow::record_batch::RecordBatch], column: &str) -> f64 {
    let v: f64 = scalar_text(batches, column).parse().expect("a float");
    (v * 1e6).round() / 1e6
}

#[test]
fn seasonal_warehouse_has_the_documented_shape_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let wh = dir.path().join("wh");
    seasonal_warehouse(&wh, &SeasonalOptions::default());

    for table in ["ops.flight_delays", "staging.flight_corrections"] {
        let b = independent(
            &wh,
            &format!(
                "SELECT count(DISTINCT flight_date) AS parts, count(*) AS rows, \
                 CAST(min(flight_date) AS VARCHAR) AS first, CAST(max(flight_date) AS VARCHAR) AS last \
                 FROM {table}"
            ),
        );
        assert_eq!(scalar_text(&b, "parts"), "731", "{table}");
        assert_eq!(scalar_text(&b, "rows"), (16 * 731).to_string(), "{table}");
        assert_eq!(scalar_text(&b, "first"), "2023-01-01", "{table}");
        assert_eq!(scalar_text(&b, "last"), "2024-12-31", "{table}");
    }
    let files = walkdir::WalkDir::new(wh.join("ops/flight_delays"))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count();
    assert_eq!(files, 731, "one file per partition");

    // January 2023: every delay corrected by exactly factor(1) = 1.05, up to cents.
    let jan = "WHERE flight_date BETWEEN DATE '2023-01-01' AND DATE '2023-01-31'";
    let old = float6(&independent(&wh, &format!("SELECT avg(avg_arr_delay) AS v FROM ops.flight_delays {jan}")), "v");
    let new = float6(
        &independent(&wh, &format!("SELECT avg(avg_arr_delay) AS v FROM staging.flight_corrections {jan}")),
        "v",
    );
    let jan_delta = new / old - 1.0;
    println!("January 2023 avg(avg_arr_delay): old {old} new {new} delta {:+.4}%", jan_delta * 100.0);
    assert!((0.049..0.051).contains(&jan_delta), "{jan_delta}");
    assert_eq!((old, new), (5.73627, 6.023145));

    // The whole range: the spec's four metrics, old (base) and new (corrections).
    let metrics = "avg(avg_arr_delay) AS avg_delay, max(avg_arr_delay) AS max_delay, \
                   count(DISTINCT carrier) AS carriers, sum(fees) AS fees";
    let old = independent(&wh, &format!("SELECT {metrics} FROM ops.flight_delays"));
    let new = independent(&wh, &format!("SELECT {metrics} FROM staging.flight_corrections"));
    for m in ["avg_delay", "max_delay", "carriers", "fees"] {
        println!("whole range {m:>9}: old {:>16} new {:>16}", scalar_text(&old, m), scalar_text(&new, m));
    }
    let (old_avg, new_avg) = (float6(&old, "avg_delay"), float6(&new, "avg_delay"));
    let delta = new_avg / old_avg - 1.0;
    println!("whole range avg_delay delta {:+.4}%", delta * 100.0);
    assert!((0.10..0.15).contains(&delta), "{delta}");
    assert_eq!((old_avg, new_avg), (9.729445, 10.920671));
    assert_eq!(
        (scalar_text(&old, "max_delay"), scalar_text(&new, "max_delay")),
        ("16.93".to_string(), "19.81".to_string())
    );
    assert_eq!((scalar_text(&old, "carriers"), scalar_text(&new, "carriers")), ("16".to_string(), "16".to_string()));
    assert_eq!(
        (scalar_text(&old, "fees"), scalar_text(&new, "fees")),
        ("531907329.76".to_string(), "541247117.78".to_string())
    );

    let spec = seasonal_spec(dir.path(), &wh, &[]);
    let out = backfill().arg("validate").arg(&spec).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The options: a NULL delay for ZZ every day, and a 17th row with a NULL carrier.
    let wh2 = dir.path().join("wh-nulls");
    seasonal_warehouse(&wh2, &SeasonalOptions { null_delay_rows: true, null_carrier_rows: true });
    for table in ["ops.flight_delays", "staging.flight_corrections"] {
        let b = independent(
            &wh2,
            &format!(
                "SELECT count(*) AS rows, count(carrier) AS carriers, count(avg_arr_delay) AS delays, \
                 count(*) FILTER (WHERE carrier = 'ZZ' AND avg_arr_delay IS NULL) AS zz \
                 FROM {table}"
            ),
        );
        assert_eq!(scalar_text(&b, "rows"), (17 * 731).to_string(), "{table}");
        assert_eq!(scalar_text(&b, "carriers"), (16 * 731).to_string(), "{table}");
        assert_eq!(scalar_text(&b, "delays"), (16 * 731).to_string(), "{table}");
        assert_eq!(scalar_text(&b, "zz"), "731", "{table}");
    }
    let changed = independent(
        &wh2,
        "SELECT count(*) AS n FROM ops.flight_delays o \
         JOIN staging.flight_corrections n ON o.flight_date = n.flight_date \
         AND o.carrier IS NULL AND n.carrier IS NULL \
         WHERE o.flights = n.flights AND o.fees = n.fees AND o.avg_arr_delay < n.avg_arr_delay",
    );
    assert_eq!(scalar_text(&changed, "n"), "731", "the NULL-carrier row keeps flights and fees, its delay rises");
}
