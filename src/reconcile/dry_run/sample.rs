//! The dry run's sample, for a range too large to evaluate whole: which partitions to
//! evaluate (stratified by month, so a seasonal metric is represented across the year),
//! the bootstrap resamples drawn from them, and the interval they give.
//!
//! Sampling design (the source of the rules): each calendar month of the range is a
//! stratum; partitions are allocated to months in proportion to their size, at least two
//! per month (one cannot show variation), drawn at random inside the month without
//! replacement (a stratified random sample: the design the interval assumes; fixed
//! days of the month would be a systematic sample that a day-of-month pattern could
//! bias). The interval
//! is a percentile bootstrap over partitions, drawn with replacement within each month,
//! `n − 1` draws from a month's `n` sampled partitions (the McCarthy–Snowden choice,
//! which keeps the resampling variance from understating the sampling variance when `n`
//! is small); a month sampled whole is kept as it is in every resample. Fixed seed:
//! the same plan gives the same sample and the same interval.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

/// Bootstrap resamples drawn for an interval.
pub const REPLICATES: u32 = 200;

/// The seed of the resampling (any fixed value: the point is repeatability).
const SEED: u64 = 0x5eed_0bac_cf11_2026;

/// The partitions to evaluate: about `n` of `partitions` (at least two per month, never
/// more than there are), stratified by month as the module describes. Ascending.
pub fn stratified(partitions: &[NaiveDate], n: usize) -> Vec<NaiveDate> {
    let months = by_month(partitions);
    let total = partitions.len().max(1);
    let want = n.max(2 * months.len()).min(partitions.len());
    let mut picked = Vec::with_capacity(want);
    let mut rng = SplitMix64(SEED);
    for days in months.values() {
        let share = (2 * want * days.len() + total) / (2 * total);
        let k = share.max(2).min(days.len());
        // The first k of a partial Fisher–Yates shuffle.
        let mut order: Vec<NaiveDate> = days.clone();
        for i in 0..k {
            let j = i + (rng.next() % (order.len() - i) as u64) as usize;
            order.swap(i, j);
        }
        picked.extend_from_slice(&order[..k]);
    }
    picked.sort();
    picked
}

/// The partitions of `sample` grouped by calendar month, each group ascending.
fn by_month(sample: &[NaiveDate]) -> BTreeMap<(i32, u32), Vec<NaiveDate>> {
    let mut months: BTreeMap<(i32, u32), Vec<NaiveDate>> = BTreeMap::new();
    for d in sample {
        months.entry((d.year(), d.month())).or_default().push(*d);
    }
    months
}

/// `(replicate, partition)` rows: replicate 0 is the sample itself (every partition
/// once); replicates 1..=[`REPLICATES`] are the bootstrap draws. `all` is every
/// partition of the range, to tell which months were sampled whole.
pub fn replicates(sample: &[NaiveDate], all: &[NaiveDate]) -> Vec<(u32, NaiveDate)> {
    let sizes = by_month(all);
    let mut rows: Vec<(u32, NaiveDate)> = sample.iter().map(|d| (0, *d)).collect();
    let mut rng = SplitMix64(SEED);
    let strata = by_month(sample);
    for r in 1..=REPLICATES {
        for (month, days) in &strata {
            if sizes.get(month).is_some_and(|all| all.len() == days.len()) || days.len() == 1 {
                rows.extend(days.iter().map(|d| (r, *d)));
                continue;
            }
            for _ in 0..days.len() - 1 {
                rows.push((r, days[(rng.next() % days.len() as u64) as usize]));
            }
        }
    }
    rows
}

/// The central 95 % of `values` (the 2.5th and 97.5th percentiles, nearest rank);
/// `None` when there are none.
pub fn interval(values: &mut [f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
    Some((at(0.025), at(0.975)))
}

/// splitmix64: a tiny, well-known generator; enough for drawing partitions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(from: &str, to: &str) -> Vec<NaiveDate> {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        d(from).iter_days().take_while(|x| *x <= d(to)).collect()
    }

    #[test]
    fn every_month_is_sampled_at_least_twice_in_proportion() {
        let all = days("2024-12-01", "2026-05-31");
        let s = stratified(&all, 24);
        assert_eq!(s.len(), 36, "18 months, two each");
        assert!(by_month(&s).values().all(|v| v.len() == 2));
        let s = stratified(&all, 100);
        assert!(s.len() >= 100 && s.len() <= 100 + 18, "{}", s.len());
        // A partial month of 3 days gets what it has, no more.
        let s = stratified(&days("2025-01-29", "2025-03-31"), 4);
        assert_eq!(by_month(&s)[&(2025, 1)].len(), 2);
        assert_eq!(stratified(&all, 10_000).len(), all.len());
    }

    #[test]
    fn replicates_are_repeatable_and_keep_whole_months_whole() {
        let all = days("2025-01-01", "2025-02-28");
        let sample: Vec<NaiveDate> = all.iter().take(31).copied().chain([all[40], all[50]]).collect();
        let a = replicates(&sample, &all);
        assert_eq!(a, replicates(&sample, &all));
        let r1: Vec<NaiveDate> = a.iter().filter(|(r, _)| *r == 1).map(|(_, d)| *d).collect();
        assert_eq!(r1.len(), 31 + 1, "January whole, one draw from February's two");
        assert_eq!(a.iter().filter(|(r, _)| *r == 0).count(), 33);
    }

    #[test]
    fn interval_of_percentiles() {
        let mut v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(interval(&mut v), Some((5.0, 195.0)));
        assert_eq!(interval(&mut []), None);
    }
}
