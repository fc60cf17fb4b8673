//! Latency histograms in microseconds and the percentiles reports print, in
//! milliseconds.

use serde::{Deserialize, Serialize};

/// `latency_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest.
    pub max: f64,
    /// Samples.
    pub count: u64,
}

/// A latency histogram in microseconds: 1 µs to 1 h at 3 significant digits (values
/// above are clamped when recorded with `saturating_record`).
pub fn latency_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .expect("constant histogram bounds are valid")
}

impl Latency {
    /// Percentiles of a microsecond histogram, in milliseconds; `None` without samples.
    pub fn of(h: &hdrhistogram::Histogram<u64>) -> Option<Latency> {
        if h.is_empty() {
            return None;
        }
        let ms = |us: u64| round4(us as f64 / 1000.0);
        Some(Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            count: h.len(),
        })
    }
}

/// Round for display in reports (keeps JSON short and stable).
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
