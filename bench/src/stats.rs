//! Order statistics of measured samples: median and tail percentiles by nearest rank, so every
//! reported figure is one that was actually observed.

use std::time::Duration;

use serde::Serialize;

/// The unit a figure is reported in; decides formatting in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Ms,
    Seconds,
    PerSecond,
    ImagesPerSecond,
    Ratio,
    Megabytes,
    Count,
}

impl Unit {
    pub fn format(self, v: f64) -> String {
        match self {
            Unit::Ms if v < 1.0 => format!("{v:.3} ms"),
            Unit::Ms if v < 100.0 => format!("{v:.2} ms"),
            Unit::Ms => format!("{v:.0} ms"),
            Unit::Seconds => format!("{v:.2} s"),
            Unit::PerSecond => format!("{v:.0} /s"),
            Unit::ImagesPerSecond => format!("{v:.1} img/s"),
            Unit::Ratio => format!("{v:.2}x"),
            Unit::Megabytes => format!("{v:.1} MB"),
            Unit::Count => format!("{v:.0}"),
        }
    }
}

/// One measured figure: a distribution, or a single value (then only `median` is set).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    pub unit: Unit,
    pub median: f64,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    /// How many samples the figure comes from.
    pub n: usize,
}

impl Measured {
    /// A single value (a count, a rate, a ratio).
    pub fn value(unit: Unit, v: f64, n: usize) -> Measured {
        Measured {
            unit,
            median: v,
            p90: None,
            p99: None,
            min: None,
            max: None,
            mean: None,
            n,
        }
    }

    /// The distribution of `samples` (in `unit`); `None` when there are none.
    pub fn of(unit: Unit, samples: &[f64]) -> Option<Measured> {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let mean = sorted.iter().sum::<f64>() / n as f64;
        // Tail percentiles of a handful of samples say nothing; leave them out.
        let tail = |q: f64, min_n: usize| (n >= min_n).then(|| nearest_rank(&sorted, q));
        Some(Measured {
            unit,
            median: median(&sorted),
            p90: tail(0.90, 10),
            p99: tail(0.99, 100),
            min: sorted.first().copied(),
            max: sorted.last().copied(),
            mean: Some(mean),
            n,
        })
    }

    /// Latencies, reported in milliseconds.
    pub fn of_durations_ms(samples: &[Duration]) -> Option<Measured> {
        let ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        Measured::of(Unit::Ms, &ms)
    }

    /// Durations, reported in seconds.
    pub fn of_durations_s(samples: &[Duration]) -> Option<Measured> {
        let s: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
        Measured::of(Unit::Seconds, &s)
    }
}

/// The value at quantile `q` (0 < q <= 1) of sorted samples, by nearest rank.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted[rank - 1]
}

/// The median of sorted samples (mean of the middle two for an even count).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_observed_values() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let m = Measured::of(Unit::Ms, &samples).unwrap();
        assert_eq!(m.median, 50.5);
        assert_eq!(m.p90, Some(90.0));
        assert_eq!(m.p99, Some(99.0));
        assert_eq!((m.min, m.max, m.n), (Some(1.0), Some(100.0), 100));
    }

    #[test]
    fn few_samples_have_no_tail_and_none_have_no_figure() {
        let m = Measured::of(Unit::Ms, &[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((m.median, m.p90, m.p99), (2.0, None, None));
        assert!(Measured::of(Unit::Ms, &[]).is_none());
    }
}
