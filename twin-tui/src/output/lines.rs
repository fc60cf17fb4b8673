//! The lines a load prints on stderr while it runs, one a second.

use sim_core::load::{ConnCounters, Interval};
use sim_core::run::Progress;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// The interval's latency at quantile `p`, ms, or "-" with no samples.
fn quantile_ms(iv: &Interval, p: f64) -> String {
    if iv.latency.is_empty() {
        "-".to_string()
    } else {
        format!("{:.2}", iv.latency.value_at_quantile(p) as f64 / 1000.0)
    }
}

/// One interval as a line, emqtt-bench style.
pub fn interval_line(iv: &Interval) -> String {
    let q = |p: f64| quantile_ms(iv, p);
    let per_s = |n: u64| (n as f64 / iv.secs.max(1e-3)).round() as u64;
    format!(
        "{:>5.0}s  sent {:>7}/s  recv {:>7}/s  acked {:>7}/s  p50 {:>6} ms  p99 {:>6} ms  err {}  conn {}  in flight {}  cpu {}  lag {:.1} ms",
        iv.t,
        per_s(iv.sent),
        per_s(iv.received),
        per_s(iv.acked),
        q(0.5),
        q(0.99),
        iv.errors,
        iv.connections,
        iv.in_flight,
        iv.cpu_percent
            .map_or("-".to_string(), |c| format!("{c:.0}%")),
        iv.lag_ms
    ) + behind(iv)
}

/// One interval of `load sub` as a line: what subscribers have (no sent, acked, in
/// flight or schedule lag, which are a publisher's).
pub fn sub_interval_line(iv: &Interval) -> String {
    let q = |p: f64| quantile_ms(iv, p);
    let per_s = (iv.received as f64 / iv.secs.max(1e-3)).round() as u64;
    format!(
        "{:>5.0}s  recv {:>7}/s  p50 {:>6} ms  p99 {:>6} ms  err {}  subscribed {}  cpu {}",
        iv.t,
        per_s,
        q(0.5),
        q(0.99),
        iv.errors,
        iv.connections,
        iv.cpu_percent
            .map_or("-".to_string(), |c| format!("{c:.0}%")),
    )
}

/// Schedule lag past which an interval line says why the load is behind.
const BEHIND_MS: f64 = 1000.0;

/// Why the publishers are behind their schedule, when they are by more than a second:
/// this process using most of a core (the generator is the limit), or else the broker
/// or the network not taking messages as fast as they are due (back-pressure).
fn behind(iv: &Interval) -> &'static str {
    if iv.lag_ms < BEHIND_MS {
        return "";
    }
    match iv.cpu_percent {
        Some(c) if c >= 90.0 => {
            "  ! behind schedule: twin is using a whole core (the generator is the limit)"
        }
        _ => {
            "  ! behind schedule: the broker is not taking messages as fast as they are due (back-pressure)"
        }
    }
}

/// `twin load SCENARIO`: a load line each second from the run's progress.
pub async fn scenario_lines(mut rx: watch::Receiver<Progress>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.tick().await;
    let (mut last, mut t) = (*rx.borrow_and_update(), 0u64);
    let mut cpu_last = sim_core::load::process_cpu_seconds();
    loop {
        every.tick().await;
        t += 1;
        let p = *rx.borrow_and_update();
        let cpu = sim_core::load::process_cpu_seconds();
        let cpu_text = match (cpu, cpu_last) {
            (Some(c), Some(l)) => format!("{:.0}%", 100.0 * (c - l)),
            _ => "-".into(),
        };
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        let _ = writeln!(
            std::io::stderr(),
            "{t:>5}s  sent {:>7}/s  recv {:>7}/s  p50 {:>6} ms  p99 {:>6} ms  conn {}/{}  in flight {}  dropped at source {}  sim {:.0}/{:.0} s  cpu {cpu_text}",
            p.sent.saturating_sub(last.sent),
            p.received.saturating_sub(last.received),
            ms(p.recent_p50_ms),
            ms(p.recent_p99_ms),
            p.connected,
            p.devices,
            p.sent.saturating_sub(p.received),
            p.dropped_at_source,
            p.sim_now,
            p.sim_duration,
        );
        (last, cpu_last) = (p, cpu);
    }
}

/// A line on stderr each second: sessions connected, failed and held so far.
pub async fn conn_lines(c: Arc<ConnCounters>) {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    loop {
        tick.tick().await;
        let _ = writeln!(
            std::io::stderr(),
            "{:>5.0}s  connected {:>7}  failed {:>6} ({} refused)  held {:>7}",
            start.elapsed().as_secs_f64(),
            c.connected.load(Ordering::Relaxed),
            c.failed.load(Ordering::Relaxed),
            c.refused.load(Ordering::Relaxed),
            c.up.load(Ordering::Relaxed),
        );
    }
}
