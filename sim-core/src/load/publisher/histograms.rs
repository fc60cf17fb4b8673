//! The histograms every publishing session of a run records into.

use crate::measure::latency_histogram;
use hdrhistogram::Histogram;

/// Histograms all sessions of a run record into. Shared, not per session: a
/// microsecond histogram spanning an hour is about 180 KiB, which per session would be
/// most of what a session costs. Each session records a whole batch per lock.
pub(crate) struct RunHistograms {
    /// PUBLISH → PUBACK/PUBCOMP, µs.
    pub ack: std::sync::Mutex<Histogram<u64>>,
    /// How late each message left against its schedule, µs.
    pub lag: std::sync::Mutex<Histogram<u64>>,
}

impl Default for RunHistograms {
    fn default() -> Self {
        RunHistograms {
            ack: std::sync::Mutex::new(latency_histogram()),
            lag: std::sync::Mutex::new(latency_histogram()),
        }
    }
}

/// Record a batch of values (µs, at least 1) under one lock, and clear it.
pub(crate) fn record_all(h: &std::sync::Mutex<Histogram<u64>>, values: &mut Vec<u64>) {
    if values.is_empty() {
        return;
    }
    if let Ok(mut h) = h.lock() {
        for v in values.iter() {
            h.saturating_record((*v).max(1));
        }
    }
    values.clear();
}
