//! Running `twin load conn`: open the sessions at the ramp rate, hold them, close them,
//! report.

use crate::load::codec::connect::connect_packet;
use crate::load::conn::idle;
use crate::load::conn::spec::{ConnCounters, ConnSpec};
use crate::load::dial::{self, Tls, check_sources, resolve};
use crate::load::error::LinkError;
use crate::load::process::process_rss_kib;
use crate::load::report::ConnReport;
use crate::load::shard::run_tag;
use crate::measure::{Latency, histogram_to_base64, latency_histogram, round4};
use crate::run::RunError;
use crate::transport::broker::EmbeddedBroker;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// State the sessions of one run share.
struct Shared {
    /// Totals the caller samples.
    counters: Arc<ConnCounters>,
    /// Connect latency, µs.
    hist: Mutex<Histogram<u64>>,
    /// Refusals by return code.
    refused_codes: Mutex<BTreeMap<u8, u64>>,
    /// Attempts over (connected or failed), to know when the ramp has settled.
    settled: AtomicU64,
    /// When the run started, for `last_connack_us`.
    start: Instant,
    /// µs from `start` to the latest CONNACK 0.
    last_connack_us: AtomicU64,
    /// TLS for `mqtts://`.
    tls: Option<Tls>,
}

/// Open this shard's sessions at `ramp_per_s`, hold them, report.
pub async fn connect(spec: &ConnSpec, stop: Arc<AtomicBool>) -> Result<ConnReport, RunError> {
    connect_counted(spec, stop, Arc::new(ConnCounters::default())).await
}

/// As [`connect`], keeping `counters` current for a progress line.
pub async fn connect_counted(
    spec: &ConnSpec,
    stop: Arc<AtomicBool>,
    counters: Arc<ConnCounters>,
) -> Result<ConnReport, RunError> {
    let sessions = spec.shard.range(spec.clients);
    let keep_alive_s = u16::try_from(spec.keep_alive.as_secs()).map_err(|_| {
        RunError::BadInput(format!(
            "keep-alive {:?} is over the MQTT maximum of 65535 s",
            spec.keep_alive
        ))
    })?;
    let (embedded, url, _broker) = match &spec.broker {
        Some(u) => (false, u.clone(), None),
        None => {
            let b = EmbeddedBroker::start(sessions.len() + 16)?;
            (true, b.url(), Some(b))
        }
    };
    let ep = crate::transport::endpoint::Endpoint::new(&url, &spec.security)
        .map_err(RunError::BadInput)?;
    let tls = Tls::of(&ep)?;
    let broker = resolve(&ep.host, ep.port, &spec.source_ips).await?;
    check_sources(&spec.source_ips)?;
    crate::run::check_file_limit(sessions.len(), embedded)?;
    let shared = Arc::new(Shared {
        counters,
        hist: Mutex::new(latency_histogram()),
        refused_codes: Mutex::new(BTreeMap::new()),
        settled: AtomicU64::new(0),
        start: Instant::now(),
        last_connack_us: AtomicU64::new(0),
        tls,
    });
    let (release_tx, release_rx) = watch::channel(false);
    let tag = run_tag();
    let gap = Duration::from_secs_f64(1.0 / spec.ramp_per_s.max(0.001));
    let mut tasks = Vec::with_capacity(sessions.len());
    let rss_before = process_rss_kib();
    let start = tokio::time::Instant::now();
    for (k, i) in sessions.clone().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep_until(start + gap.mul_f64(k as f64)).await;
        let source =
            (!spec.source_ips.is_empty()).then(|| spec.source_ips[i % spec.source_ips.len()]);
        let packet = connect_packet(
            &format!("twin-conn-{tag}-{i}"),
            keep_alive_s,
            spec.protocol.is_v5(),
            ep.credentials(),
            None,
        )
        .map_err(|e| RunError::BadInput(e.to_string()))?;
        tasks.push(tokio::spawn(session(
            broker,
            source,
            packet,
            keep_alive_s,
            spec.connect_timeout,
            shared.clone(),
            release_rx.clone(),
        )));
    }
    // Wait for every attempt to settle (each is bounded by the connect timeout), then hold.
    let spawned = tasks.len() as u64;
    let settle_by = Instant::now() + spec.connect_timeout + Duration::from_secs(1);
    while shared.settled.load(Ordering::Acquire) < spawned
        && Instant::now() < settle_by
        && !stop.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let hold_end = Instant::now() + spec.hold;
    while !stop.load(Ordering::Relaxed) {
        let left = hold_end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
    }
    let c = &shared.counters;
    let held = c.up.load(Ordering::Acquire);
    let rss_at_hold = process_rss_kib();
    let _ = release_tx.send(true);
    let closing = async {
        for t in tasks {
            let _ = t.await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), closing)
        .await
        .is_err()
    {
        tracing::debug!("some load conn sessions did not close within 10 s");
    }
    let hist = shared.hist.lock().map_err(poisoned)?.clone();
    let refused_codes = shared.refused_codes.lock().map_err(poisoned)?.clone();
    let rss_per_session_kib = match (rss_before, rss_at_hold) {
        (Some(a), Some(b)) if held > 0 => Some(round4(b.saturating_sub(a) as f64 / held as f64)),
        _ => None,
    };
    Ok(ConnReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load conn".into(),
        broker: crate::report::BrokerInfo { url, embedded },
        shard: spec.shard.label(),
        merged: 1,
        clients: sessions.len() as u64,
        connected: c.connected.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
        refused: c.refused.load(Ordering::Relaxed),
        refused_codes,
        held,
        connect_ms: Latency::of(&hist),
        ramp_seconds: round4(shared.last_connack_us.load(Ordering::Relaxed) as f64 / 1e6),
        rss_kib: rss_at_hold,
        rss_per_session_kib,
        histograms: BTreeMap::from([("connect".to_string(), histogram_to_base64(&hist))]),
    })
}

fn poisoned<T>(_: T) -> std::io::Error {
    std::io::Error::other("load conn state poisoned")
}

/// One session: open, hold until released (or dropped), close. Its future stays small
/// (a test holds it under 1 KiB): it is most of what a held session costs.
async fn session(
    broker: SocketAddr,
    source: Option<IpAddr>,
    packet: Vec<u8>,
    keep_alive_s: u16,
    timeout: Duration,
    shared: Arc<Shared>,
    mut release: watch::Receiver<bool>,
) {
    let t0 = Instant::now();
    let opened = tokio::time::timeout(
        timeout,
        dial::open(broker, source, packet, shared.tls.as_ref(), true),
    )
    .await;
    let c = &shared.counters;
    let mut stream = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(LinkError::Refused { code })) => {
            c.refused.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut m) = shared.refused_codes.lock() {
                *m.entry(code).or_default() += 1;
            }
            c.failed.fetch_add(1, Ordering::Relaxed);
            shared.settled.fetch_add(1, Ordering::Release);
            return;
        }
        Ok(Err(e)) => {
            tracing::debug!("load conn session to {broker} failed: {e}");
            c.failed.fetch_add(1, Ordering::Relaxed);
            shared.settled.fetch_add(1, Ordering::Release);
            return;
        }
        Err(_) => {
            c.failed.fetch_add(1, Ordering::Relaxed);
            shared.settled.fetch_add(1, Ordering::Release);
            return;
        }
    };
    if let Ok(mut h) = shared.hist.lock() {
        h.saturating_record((t0.elapsed().as_micros() as u64).max(1));
    }
    shared
        .last_connack_us
        .fetch_max(shared.start.elapsed().as_micros() as u64, Ordering::Relaxed);
    c.connected.fetch_add(1, Ordering::Relaxed);
    c.up.fetch_add(1, Ordering::AcqRel);
    shared.settled.fetch_add(1, Ordering::Release);
    match idle::hold(&mut stream, keep_alive_s, &mut release).await {
        Ok(()) => {
            c.up.fetch_sub(1, Ordering::AcqRel);
            let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(stream)).await;
        }
        Err(e) => {
            tracing::debug!("load conn session to {broker} dropped: {e}");
            c.up.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_session_future_is_small() {
        let (_tx, rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            counters: Arc::default(),
            hist: Mutex::new(latency_histogram()),
            refused_codes: Mutex::new(BTreeMap::new()),
            settled: AtomicU64::new(0),
            start: Instant::now(),
            last_connack_us: AtomicU64::new(0),
            tls: None,
        });
        let f = session(
            ([127, 0, 0, 1], 1).into(),
            None,
            Vec::new(),
            60,
            Duration::from_secs(1),
            shared,
            rx,
        );
        let size = std::mem::size_of_val(&f);
        assert!(size <= 1024, "session future is {size} bytes");
    }
}
