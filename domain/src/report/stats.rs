//! Percentiles (nearest-rank) and speed bands over times that may never have happened.

use serde::Serialize;

/// A time in seconds, or "it never happened (yet)". `Never` sorts after every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Elapsed {
    Secs(i64),
    Never,
}

impl Elapsed {
    pub fn secs(self) -> Option<i64> {
        match self {
            Elapsed::Secs(s) => Some(s),
            Elapsed::Never => None,
        }
    }
}

/// The speed bands, in order; the last is "never".
pub const BANDS: [&str; 6] = ["<5m", "5-15m", "15-60m", "1-24h", ">1d", "never"];

/// Which band a time falls in: under 5 minutes, 5 to under 15, 15 to under 60, 1 hour to under
/// 24, a day or more, never. A band includes its lower bound.
pub fn band(e: Elapsed) -> usize {
    match e {
        Elapsed::Secs(s) if s < 5 * 60 => 0,
        Elapsed::Secs(s) if s < 15 * 60 => 1,
        Elapsed::Secs(s) if s < 3600 => 2,
        Elapsed::Secs(s) if s < 86_400 => 3,
        Elapsed::Secs(_) => 4,
        Elapsed::Never => 5,
    }
}

/// The nearest-rank percentile of sorted values: the smallest value such that at least `p`
/// percent of the values are at or below it, i.e. the value at rank ⌈p/100 × n⌉ (1-based).
/// No interpolation: the answer is always one of the values. `None` for no values.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: u32) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = (p as usize * n).div_ceil(100).clamp(1, n);
    Some(sorted[rank - 1])
}

/// How long something took over a set of leads: P50, P90 and P95 (nearest rank, "never"
/// counting as longer than any time) and how many fell in each band.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Distribution {
    /// Leads measured (those that never got there included).
    pub n: usize,
    pub p50: Option<Elapsed>,
    pub p90: Option<Elapsed>,
    pub p95: Option<Elapsed>,
    /// Counts per band of [`BANDS`].
    pub bands: [usize; 6],
}

impl Distribution {
    pub fn of(mut values: Vec<Elapsed>) -> Distribution {
        values.sort_unstable();
        let mut bands = [0; 6];
        for v in &values {
            bands[band(*v)] += 1;
        }
        Distribution {
            n: values.len(),
            p50: nearest_rank(&values, 50),
            p90: nearest_rank(&values, 90),
            p95: nearest_rank(&values, 95),
            bands,
        }
    }

    /// The share (0..=1) of band `i`; 0 when nothing was measured.
    pub fn share(&self, i: usize) -> f64 {
        ratio(self.bands[i], self.n)
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The nearest-rank median of plain times, `None` for none.
pub fn median(mut secs: Vec<i64>) -> Option<i64> {
    secs.sort_unstable();
    nearest_rank(&secs, 50)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Elapsed::*;

    #[test]
    fn nearest_rank_takes_the_value_at_rank_ceiling_of_p_times_n() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 50), Some(5));
        assert_eq!(nearest_rank(&v, 90), Some(9));
        assert_eq!(nearest_rank(&v, 95), Some(10));
        assert_eq!(nearest_rank(&v, 0), Some(1));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank::<i64>(&[], 50), None);
        // 20 values: P95 is rank 19, never interpolated.
        let v: Vec<i64> = (1..=20).map(|i| i * 10).collect();
        assert_eq!(nearest_rank(&v, 95), Some(190));
        assert_eq!(nearest_rank(&v, 50), Some(100));
    }

    #[test]
    fn never_counts_as_slower_than_any_time_in_percentiles() {
        let d = Distribution::of(vec![Secs(60), Never, Secs(120), Never]);
        assert_eq!(d.p50, Some(Secs(120)));
        assert_eq!(d.p90, Some(Never));
        assert_eq!(d.n, 4);
    }

    #[test]
    fn bands_include_their_lower_bound() {
        assert_eq!(band(Secs(0)), 0);
        assert_eq!(band(Secs(299)), 0);
        assert_eq!(band(Secs(300)), 1);
        assert_eq!(band(Secs(899)), 1);
        assert_eq!(band(Secs(900)), 2);
        assert_eq!(band(Secs(3600)), 3);
        assert_eq!(band(Secs(86_399)), 3);
        assert_eq!(band(Secs(86_400)), 4);
        assert_eq!(band(Never), 5);
        let d = Distribution::of(vec![Secs(10), Secs(400), Secs(400), Never]);
        assert_eq!(d.bands, [1, 2, 0, 0, 0, 1]);
        assert_eq!(d.share(1), 0.5);
    }
}
