//! Shared leaf: the wall clock the run lease is judged by. It is the system clock, moved
//! by `BACKFILL_CLOCK_SKEW` when set (a duration such as `2h` or `-30m`): tests use it to
//! make a lease look expired to a second process without waiting an hour.

use chrono::{DateTime, Utc};

/// The system time plus `BACKFILL_CLOCK_SKEW` (none when unset or unreadable).
pub fn now() -> DateTime<Utc> {
    Utc::now() + skew()
}

fn skew() -> chrono::Duration {
    let Ok(text) = std::env::var("BACKFILL_CLOCK_SKEW") else { return chrono::Duration::zero() };
    let (sign, magnitude) = match text.trim().strip_prefix('-') {
        Some(rest) => (-1, rest.to_string()),
        None => (1, text.trim().to_string()),
    };
    match humantime::parse_duration(&magnitude).ok().and_then(|d| chrono::Duration::from_std(d).ok()) {
        Some(d) => d * sign,
        None => {
            tracing::warn!(value = %text, "BACKFILL_CLOCK_SKEW is not a duration such as 2h; ignored");
            chrono::Duration::zero()
        }
    }
}
