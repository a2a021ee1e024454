//! The benchmarks' figures: each row's samples are shown as the median with the min–max
//! spread, and compared by their medians; and the knobs every benchmark takes.

/// `BENCH_QUICK` set (and not `0`): small sizes, one round, for development.
#[must_use]
pub fn quick() -> bool {
    std::env::var_os("BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// `BENCH_ROUNDS` as a number, if it is one.
#[must_use]
pub fn rounds() -> Option<usize> {
    std::env::var("BENCH_ROUNDS").ok()?.parse().ok()
}

/// The median of `v`; `None` for no sample.
#[must_use]
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

/// `median (min-max)`, or `-` for no sample.
#[must_use]
pub fn summary(v: &[f64]) -> String {
    let Some(m) = median(v) else {
        return "-".to_owned();
    };
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}-{})", fmt(m), fmt(min), fmt(max))
}

/// A figure with as many decimals as its size deserves.
#[must_use]
pub fn fmt(x: f64) -> String {
    if (x == x.trunc() && x.abs() < 1e9) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(summary(&[1.0, 5.0, 2.0]), "2 (1-5)");
    }
}
