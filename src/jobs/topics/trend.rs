//! Is a term rising? Today's count against the mean of the previous days, with a
//! minimum count, a minimum ratio, a new high for the window and a Poisson tail test
//! together, so that 2 → 4 is not a "100% spike" and a busy Monday is not news. Word
//! counts swing more than a Poisson rate (one popular wording brings five words up at
//! once), so the test is quasi-Poisson: rate and count are scaled down by the
//! baseline's dispersion (variance / mean, at least 1).

use serde::Deserialize;
use statrs::distribution::{DiscreteCDF, Poisson};

/// `[topics.trend]` of the pipeline file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TrendSettings {
    /// Days before the date the baseline is the mean of. Default 7.
    pub baseline_days: u32,
    /// Fewer days with data than this in the baseline: no trend at all. Default 3.
    pub min_baseline_days: u32,
    /// Messages on the day needed before anything can be rising. Default 10.
    pub min_count: u32,
    /// How many times the baseline the day must reach. Default 2.0.
    pub min_ratio: f64,
    /// The most probable a count this high may be under the baseline rate (Poisson
    /// upper tail, scaled for dispersion). Default 0.001: with thousands of terms a
    /// day, a looser test reports chance.
    pub max_p_value: f64,
    /// The baseline rate never counts as lower than this, so a word never seen before
    /// needs more than a handful of mentions. Default 1.0.
    pub min_baseline_rate: f64,
}

impl Default for TrendSettings {
    fn default() -> TrendSettings {
        TrendSettings {
            baseline_days: 7,
            min_baseline_days: 3,
            min_count: 10,
            min_ratio: 2.0,
            max_p_value: 0.001,
            min_baseline_rate: 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// count / baseline mean − 1; None without a baseline or when it is zero.
    pub change: Option<f64>,
    pub rising: bool,
    /// P(X ≥ count) for X ~ Poisson(baseline); None without a baseline.
    pub p_value: Option<f64>,
}

/// `baseline` holds the counts of the previous days that have data (a day before the
/// dataset starts is not a zero).
pub fn assess(count: u32, baseline: &[u32], settings: &TrendSettings) -> Trend {
    if baseline.is_empty() || baseline.len() < settings.min_baseline_days as usize {
        return Trend {
            change: None,
            rising: false,
            p_value: None,
        };
    }
    let days = baseline.len() as f64;
    let mean = baseline.iter().map(|c| f64::from(*c)).sum::<f64>() / days;
    let variance = if baseline.len() > 1 {
        baseline
            .iter()
            .map(|c| (f64::from(*c) - mean).powi(2))
            .sum::<f64>()
            / (days - 1.0)
    } else {
        0.0
    };
    let change = (mean > 0.0).then(|| f64::from(count) / mean - 1.0);
    let rate = mean.max(settings.min_baseline_rate);
    let dispersion = (variance / rate).max(1.0);
    let scaled_count = (f64::from(count) / dispersion).ceil() as u64;
    let p_value = if scaled_count == 0 {
        1.0
    } else {
        let poisson = Poisson::new(rate / dispersion).expect("a positive rate");
        // sf(k) = P(X > k), so P(X ≥ count) = sf(count − 1).
        poisson.sf(scaled_count - 1)
    };
    let new_high = baseline.iter().all(|previous| count > *previous);
    let rising = count >= settings.min_count
        && f64::from(count) >= settings.min_ratio * rate
        && new_high
        && p_value <= settings.max_p_value;
    Trend {
        change,
        rising,
        p_value: Some(p_value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TrendSettings {
        TrendSettings::default()
    }

    #[test]
    fn small_numbers_doubling_is_not_a_rise() {
        let trend = assess(4, &[2, 2, 2, 2, 2, 2, 2], &settings());
        assert_eq!(trend.change, Some(1.0));
        assert!(!trend.rising);
    }

    #[test]
    fn a_fourfold_day_on_a_steady_base_is_a_rise() {
        let trend = assess(24, &[5, 6, 4, 6, 5, 7, 5], &settings());
        assert!(trend.rising, "{trend:?}");
        assert!(trend.p_value.unwrap() < 1e-6);
    }

    #[test]
    fn ordinary_noise_on_a_big_base_is_not_a_rise() {
        // 130 against a mean of 100: a 30% swing, likely enough by chance? No (p ≈ 0.002),
        // but well short of double.
        let trend = assess(130, &[100, 95, 105, 98, 102, 100, 100], &settings());
        assert!(!trend.rising, "{trend:?}");
    }

    #[test]
    fn a_wildly_swinging_baseline_makes_a_high_day_less_surprising() {
        let steady = assess(30, &[10, 10, 11, 9, 10, 10, 10], &settings());
        let swinging = assess(30, &[2, 25, 3, 20, 1, 18, 1], &settings());
        assert!(steady.rising, "{steady:?}");
        assert!(!swinging.rising, "{swinging:?}");
        assert!(swinging.p_value.unwrap() > steady.p_value.unwrap());
    }

    #[test]
    fn a_new_word_needs_the_minimum_count() {
        assert!(!assess(6, &[0, 0, 0, 0, 0, 0, 0], &settings()).rising);
        let new_and_loud = assess(15, &[0, 0, 0, 0, 0, 0, 0], &settings());
        assert!(new_and_loud.rising);
        assert_eq!(new_and_loud.change, None);
    }

    #[test]
    fn too_short_a_baseline_gives_no_trend() {
        let trend = assess(50, &[1, 1], &settings());
        assert_eq!(trend.change, None);
        assert!(!trend.rising);
    }
}
