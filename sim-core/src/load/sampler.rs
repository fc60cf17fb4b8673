//! The running totals of a load run and the sampler that turns them into one
//! [`Interval`] a second, for the interval lines, CSV and HDR logs.

use crate::load::process::process_cpu_seconds;
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// One second (or so) of a running load, for interval lines, CSV and HDR logs.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Seconds since the run started, at the end of this interval.
    pub t: f64,
    /// Unix time of the start of this interval, seconds.
    pub start_unix: f64,
    /// Length of the interval, seconds.
    pub secs: f64,
    /// Messages accepted by the clients in this interval.
    pub sent: u64,
    /// Distinct messages received in this interval.
    pub received: u64,
    /// Acknowledgements received in this interval.
    pub acked: u64,
    /// Connection errors in this interval.
    pub errors: u64,
    /// Sessions connected now.
    pub connections: u64,
    /// Sent so far minus received so far.
    pub in_flight: u64,
    /// Receive latency (from the actual send, µs) of this interval's messages.
    pub latency: Histogram<u64>,
    /// This process's CPU use over the interval, percent of one core.
    pub cpu_percent: Option<f64>,
    /// Worst schedule lag of this interval's publishes, ms.
    pub lag_ms: f64,
}

/// Running totals a caller can sample.
#[derive(Debug, Default)]
pub struct LoadCounters {
    /// Messages accepted by publishers' clients.
    pub sent: AtomicU64,
    /// Distinct messages the subscriber received.
    pub received: AtomicU64,
    /// Acknowledgements received.
    pub acked: AtomicU64,
    /// Connection errors.
    pub errors: AtomicU64,
    /// Sessions connected now.
    pub connections: AtomicU64,
    /// Worst schedule lag since the last sample, µs.
    pub lag_us: AtomicU64,
    /// Messages dropped at the source (buffer full, QoS 0 offline).
    pub dropped: AtomicU64,
    /// QoS 1/2 messages written again after a lost connection.
    pub retransmitted: AtomicU64,
    /// Connections made again after a lost one.
    pub reconnects: AtomicU64,
}

/// The sampler's task. Dropping it stops the sampler and closes its interval channel,
/// on every way out of a load, its errors included (the caller prints intervals until
/// that channel closes).
pub(crate) struct Sampler(tokio::task::JoinHandle<()>);

impl Drop for Sampler {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Send an [`Interval`] each second until the receiver goes away or the [`Sampler`] is
/// dropped; `take_latency` hands over (and resets) the latency histogram of the interval.
pub(crate) fn spawn_sampler(
    counters: Arc<LoadCounters>,
    run_start: Instant,
    tx: mpsc::UnboundedSender<Interval>,
    take_latency: impl Fn() -> Histogram<u64> + Send + 'static,
) -> Sampler {
    Sampler(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.tick().await;
        let (mut last, mut at, mut at_unix) = ([0u64; 4], Instant::now(), unix_us());
        let mut cpu_last = process_cpu_seconds();
        loop {
            every.tick().await;
            let now = [
                counters.sent.load(Ordering::Relaxed),
                counters.received.load(Ordering::Relaxed),
                counters.acked.load(Ordering::Relaxed),
                counters.errors.load(Ordering::Relaxed),
            ];
            let latency = take_latency();
            let secs = at.elapsed().as_secs_f64();
            let cpu = process_cpu_seconds();
            let cpu_percent = match (cpu, cpu_last) {
                (Some(c), Some(l)) if secs > 0.0 => Some(100.0 * (c - l) / secs),
                _ => None,
            };
            let iv = Interval {
                t: run_start.elapsed().as_secs_f64(),
                start_unix: at_unix as f64 / 1e6,
                secs,
                sent: now[0] - last[0],
                received: now[1] - last[1],
                acked: now[2] - last[2],
                errors: now[3] - last[3],
                connections: counters.connections.load(Ordering::Relaxed),
                in_flight: now[0].saturating_sub(now[1]),
                latency,
                cpu_percent,
                lag_ms: counters.lag_us.swap(0, Ordering::Relaxed) as f64 / 1000.0,
            };
            if tx.send(iv).is_err() {
                return;
            }
            (last, at, at_unix, cpu_last) = (now, Instant::now(), unix_us(), cpu);
        }
    }))
}
