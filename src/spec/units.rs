//! The small value languages inside a spec: sizes, durations, tolerances and
//! expected-delta ranges. Sizes and durations are parsed by the `bytesize` and
//! `humantime` crates; the percent forms are ours because they are backfill rules.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde::Serialize;

/// A size such as `10GiB`, `500MB` or `1048576` (bytes). Returns bytes.
///
/// Errors: the text `bytesize` gives when the size does not parse.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|e| format!("`{text}` is not a size ({e})"))
}

/// A duration such as `0s`, `2s`, `10m` or `1h 30m`, parsed by `humantime`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("`{text}` is not a duration ({e})"))
}

/// How far a partition's row count may move between the base and the shadow before
/// the `row_count_tolerance` gate fails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "unit", content = "value", rename_all = "snake_case")]
pub enum Tolerance {
    /// An absolute number of rows per partition.
    Rows(u64),
    /// A percent of the base partition's row count (`"0.5%"` is `Percent(0.5)`).
    Percent(f64),
}

impl Tolerance {
    /// Parse `"0.5%"`; whole numbers arrive as [`Tolerance::Rows`] from YAML directly.
    pub fn parse_percent(text: &str) -> Result<Self, String> {
        let body = text
            .trim()
            .strip_suffix('%')
            .ok_or_else(|| format!("`{text}` is neither a row count (e.g. 0) nor a percent (e.g. \"0.5%\")"))?;
        match body.trim().parse::<f64>() {
            Ok(p) if p >= 0.0 && p.is_finite() => Ok(Tolerance::Percent(p)),
            _ => Err(format!("`{text}` is not a non-negative percent such as \"0.5%\"")),
        }
    }
}

impl std::fmt::Display for Tolerance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tolerance::Rows(n) => write!(f, "{n} rows"),
            Tolerance::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// The range a metric's relative change (new − old) / old over the whole source range
/// must fall in, in percent: `"-1.5% to -0.8%"` is `{ low: -1.5, high: -0.8 }`;
/// `"0%"` is `{ low: 0, high: 0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeltaRange {
    /// Lowest accepted change, percent.
    pub low: f64,
    /// Highest accepted change, percent.
    pub high: f64,
}

static DELTA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*(?:to\s+([+-]?\d+(?:\.\d+)?)\s*%)?\s*$").unwrap());

impl DeltaRange {
    /// Parse `"-1.5% to -0.8%"`, `"0%"` or `"+2% to +5%"`.
    ///
    /// Errors: any other shape, or a low bound above the high bound.
    pub fn parse(text: &str) -> Result<Self, String> {
        let caps = DELTA.captures(text).ok_or_else(|| {
            format!("`{text}` is not a delta range; write \"-1.5% to -0.8%\", \"0%\" or \"+2% to +5%\"")
        })?;
        let low: f64 = caps[1].parse().map_err(|_| format!("`{}` is not a number", &caps[1]))?;
        let high: f64 = match caps.get(2) {
            Some(m) => m.as_str().parse().map_err(|_| format!("`{}` is not a number", m.as_str()))?,
            None => low,
        };
        if low > high {
            return Err(format!("`{text}` has its low bound {low}% above its high bound {high}%"));
        }
        Ok(Self { low, high })
    }

    /// True when `percent` lies inside the range, bounds included.
    pub fn contains(&self, percent: f64) -> bool {
        percent >= self.low && percent <= self.high
    }

    /// How many percentage points `percent` lies outside the range; 0 inside it.
    pub fn distance(&self, percent: f64) -> f64 {
        (self.low - percent).max(percent - self.high).max(0.0)
    }
}

impl std::fmt::Display for DeltaRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.low == self.high {
            write!(f, "{:+} %", self.low)
        } else {
            write!(f, "{:+} % to {:+} %", self.low, self.high)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_ranges() {
        assert_eq!(DeltaRange::parse("-1.5% to -0.8%").unwrap(), DeltaRange { low: -1.5, high: -0.8 });
        assert_eq!(DeltaRange::parse("0%").unwrap(), DeltaRange { low: 0.0, high: 0.0 });
        assert_eq!(DeltaRange::parse("+2% to +5%").unwrap(), DeltaRange { low: 2.0, high: 5.0 });
        assert!(DeltaRange::parse("-0.8% to -1.5%").is_err());
        assert!(DeltaRange::parse("about -1%").is_err());
        assert!(DeltaRange::parse("-1.5 to -0.8").is_err());
    }

    #[test]
    fn sizes_durations_tolerances() {
        assert_eq!(parse_size("10GiB").unwrap(), 10 * 1024 * 1024 * 1024);
        assert!(parse_size("ten gigs").is_err());
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert!(parse_duration("soon").is_err());
        assert_eq!(Tolerance::parse_percent("0.5%").unwrap(), Tolerance::Percent(0.5));
        assert!(Tolerance::parse_percent("-1%").is_err());
    }
}
