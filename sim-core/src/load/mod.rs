//! `twin load`: broker load testing with exact accounting.

mod client;
mod conn;
pub mod idle;
mod lean;
mod lean_sub;
mod publish;
mod sub;

pub use client::Protocol;
pub use conn::{ConnCounters, ConnReport, ConnSpec, connect, connect_counted, merge_conn};
pub use publish::*;
pub use sub::{SubReport, SubSpec, subscribe};

/// The lean sessions' packet parsers, for the fuzz targets in `fuzz/`: whatever the
/// broker sends, they return an error, never panic.
#[doc(hidden)]
pub mod parsers {
    pub use super::lean_sub::{SubIncoming, parse as subscriber};

    /// The publishing session's parser (acks, PINGRESP): bytes used and packets found.
    pub fn publisher(buf: &[u8]) -> Result<(usize, usize), super::idle::IdleError> {
        let mut out = Vec::new();
        let used = super::lean::parse(buf, &mut out)?;
        Ok((used, out.len()))
    }
}

use crate::report::{histogram_from_base64, latency_histogram};
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// `--shard i/N`: this process runs the i-th of N disjoint slices of the clients, so N
/// processes (or Kubernetes pods) together run what one would, with disjoint client
/// ids, device indices and topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Zero-based slice index.
    pub index: usize,
    /// Number of slices.
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parse `"i/N"` with `0 <= i < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("shard \"{s}\": expected i/N with 0 <= i < N, like 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// `"i/N"` for the reports, or `None` for an unsharded run.
    pub fn label(&self) -> Option<String> {
        (self.count > 1).then(|| format!("{}/{}", self.index, self.count))
    }

    /// This shard's slice of `total` items (contiguous; the slices of all shards
    /// partition `0..total`).
    pub fn range(&self, total: usize) -> Range<usize> {
        let at = |k: usize| total * k / self.count;
        at(self.index)..at(self.index + 1)
    }
}

/// Serde default of the reports' `merged`: a report read without it is one run.
pub(crate) fn one() -> u64 {
    1
}

/// A tag that keeps this process's client ids apart from another's on the same broker.
pub fn run_tag() -> String {
    use rand::RngExt as _;
    format!("{:06x}", rand::rng().random::<u32>() & 0xff_ffff)
}

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

/// What a publisher does with a message that falls due while it cannot write it (no
/// connection, its in-flight window full, or the counting subscriber away) and its
/// buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BufferPolicy {
    /// Drop the oldest buffered message to make room (keep the freshest readings).
    DropOldest,
    /// Drop the new message.
    DropNewest,
    /// Stop the device's schedule until there is room: nothing is dropped, later
    /// messages leave late (the intended-time latency shows by how much). The default:
    /// a benchmark drops nothing it was not asked to.
    #[default]
    BlockDevice,
}

impl BufferPolicy {
    /// Parse `drop-oldest`, `drop-newest` or `block-device`.
    pub fn parse(s: &str) -> Result<BufferPolicy, String> {
        match s {
            "drop-oldest" => Ok(BufferPolicy::DropOldest),
            "drop-newest" => Ok(BufferPolicy::DropNewest),
            "block-device" => Ok(BufferPolicy::BlockDevice),
            _ => Err(format!(
                "buffer policy \"{s}\": expected drop-oldest, drop-newest or block-device"
            )),
        }
    }
}

/// Messages a publisher did not send, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Dropped {
    /// Pushed out of a full buffer (`drop-oldest`) or refused by it (`drop-newest`).
    pub buffer_full: u64,
    /// QoS 0 messages due while the session could not write: QoS 0 is not buffered.
    pub offline: u64,
    /// Due, still buffered (or held back by `block-device`) when the run ended.
    pub unsent: u64,
}

impl Dropped {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.buffer_full + self.offline + self.unsent
    }

    /// Add another's counts.
    pub fn add(&mut self, o: &Dropped) {
        self.buffer_full += o.buffer_full;
        self.offline += o.offline;
        self.unsent += o.unsent;
    }
}

/// Spaces the connection attempts of a run: at most `per_s` a second, whichever
/// sessions ask, so thousands of sessions coming back to a restarted broker arrive as
/// a ramp, not a stampede. Each waiting session holds one slot, so the queue is never
/// longer than the sessions over the rate.
///
/// Spacing the starts is not enough on its own: a broker that stalls for a moment leaves
/// the attempts started meanwhile in its listen backlog, and accepts them all at once
/// when it resumes. So a slot also holds one of a few in-flight permits until its attempt
/// ends (CONNACK, refusal or timeout): while the broker stalls, no more attempts start.
/// The permits are 5 % of the rate and the starts the other 95 %, so in any one second
/// the broker accepts at most `per_s`: that second's starts plus the attempts already
/// in flight.
pub(crate) struct Pacer {
    gap: Duration,
    next: std::sync::Mutex<tokio::time::Instant>,
    in_flight: tokio::sync::Semaphore,
}

impl Pacer {
    /// At most `per_s` attempts a second, counted where the broker sees them.
    pub fn new(per_s: f64) -> Pacer {
        let per_s = per_s.max(0.001);
        let permits = ((per_s * 0.05).floor() as usize).max(1);
        let starts = (per_s - permits as f64).max(per_s * 0.5);
        Pacer {
            gap: Duration::from_secs_f64(1.0 / starts),
            next: std::sync::Mutex::new(tokio::time::Instant::now()),
            in_flight: tokio::sync::Semaphore::new(permits),
        }
    }

    /// Wait for this caller's slot; hold what it returns until the attempt has ended.
    pub async fn wait(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let permit = self.in_flight.acquire().await.ok();
        let slot = match self.next.lock() {
            Ok(mut next) => {
                let slot = (*next).max(tokio::time::Instant::now());
                *next = slot + self.gap;
                slot
            }
            Err(_) => return permit,
        };
        tokio::time::sleep_until(slot).await;
        permit
    }
}

#[cfg(test)]
mod pacer_tests {
    use super::Pacer;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn starts_are_spaced_and_stop_while_attempts_hang() {
        // 100 a second: 5 in flight at most, starts 1/95 s apart.
        let p = std::sync::Arc::new(Pacer::new(100.0));
        let t0 = tokio::time::Instant::now();
        let mut held = Vec::new();
        for _ in 0..5 {
            held.push(p.wait().await);
        }
        let spread = t0.elapsed();
        assert!(
            spread >= Duration::from_secs_f64(4.0 / 95.0) && spread < Duration::from_millis(50),
            "{spread:?}"
        );
        // All five attempts hang (a stalled broker): a sixth does not start…
        let p2 = p.clone();
        let sixth = tokio::spawn(async move { p2.wait().await.is_some() });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!sixth.is_finished());
        // …until one of them ends.
        held.pop();
        assert!(
            tokio::time::timeout(Duration::from_secs(1), sixth)
                .await
                .is_ok()
        );
    }
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // Linux reports these in USER_HZ, which is 100 on every architecture it exposes.
    Some(ticks as f64 / 100.0)
}

/// Send an [`Interval`] each second until the receiver goes away; `take_latency` hands
/// over (and resets) the latency histogram of the interval.
pub(crate) fn spawn_sampler(
    counters: Arc<LoadCounters>,
    run_start: Instant,
    tx: mpsc::UnboundedSender<Interval>,
    take_latency: impl Fn() -> Histogram<u64> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
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
    })
}

/// This process's resident memory, KiB (`VmRSS` in `/proc/self/status`).
pub fn process_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    // "VmRSS:\t  123456 kB"
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Add a report's base64 histograms into `into`, by name (the shard merges).
pub(crate) fn add_histograms(
    into: &mut BTreeMap<String, Histogram<u64>>,
    from: &BTreeMap<String, String>,
) -> Result<(), String> {
    for (name, text) in from {
        let h = histogram_from_base64(text).map_err(|e| format!("{name}: {e}"))?;
        let sum = into.entry(name.clone()).or_insert_with(latency_histogram);
        sum.add(&h).map_err(|e| format!("{name}: {e:?}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_clients() {
        for total in [0, 1, 7, 100, 1001] {
            for n in 1..=5 {
                let mut covered = Vec::new();
                for i in 0..n {
                    covered.extend(Shard { index: i, count: n }.range(total));
                }
                assert_eq!(covered, (0..total).collect::<Vec<_>>(), "{total} over {n}");
            }
        }
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
