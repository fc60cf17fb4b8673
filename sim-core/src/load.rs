//! `twin load`: broker load with exact accounting. Each publisher follows an open-loop
//! schedule (message k is due at t0 + k·interval whatever happened before), stamps each
//! payload with its publisher, `seq`, intended and actual send times, and a subscriber in
//! the same process counts every message by (publisher, seq): exact loss, duplicates and
//! reordering, and latency both from the actual send (what the broker added) and from the
//! intended send (coordinated omission corrected: a stalled generator cannot hide delay).

use crate::ingest::DeviceTally;
use crate::report::{Latency, round4};
use crate::run::RunError;
use crate::run::qos_of;
use crate::transport::broker::EmbeddedBroker;
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Payload header: magic, publisher, seq, intended µs, sent µs.
const HEADER: usize = 4 + 4 + 8 + 8 + 8;
const MAGIC: &[u8; 4] = b"TWL1";

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// Publishers.
    pub clients: usize,
    /// Time between two messages of one publisher.
    pub interval: Duration,
    /// QoS of publish and subscribe.
    pub qos: u8,
    /// Payload size in bytes (at least the 32-byte header).
    pub size: usize,
    /// Topic template; `%i` is the publisher index.
    pub topic: String,
    /// How long publishers publish.
    pub duration: Duration,
    /// Messages per publisher, if bounded by count (the smaller bound wins).
    pub count: Option<u64>,
    /// How long to wait for stragglers after the last publish.
    pub drain: Duration,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
}

/// Encode a load payload.
pub fn encode(publisher: u32, seq: u64, intended_us: u64, sent_us: u64, size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(size.max(HEADER));
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&publisher.to_le_bytes());
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&intended_us.to_le_bytes());
    b.extend_from_slice(&sent_us.to_le_bytes());
    b.resize(size.max(HEADER), b'.');
    b
}

/// Decode a load payload: (publisher, seq, intended µs, sent µs).
pub fn decode(b: &[u8]) -> Option<(u32, u64, u64, u64)> {
    if b.len() < HEADER || &b[..4] != MAGIC {
        return None;
    }
    let u32_at = |i: usize| {
        b.get(i..i + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |i: usize| {
        b.get(i..i + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    Some((u32_at(4)?, u64_at(8)?, u64_at(16)?, u64_at(24)?))
}

/// The report of a `twin load pub` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"load pub"`.
    pub command: String,
    /// Broker used.
    pub broker: crate::report::BrokerInfo,
    /// Publishers.
    pub clients: u64,
    /// QoS.
    pub qos: u8,
    /// Payload bytes.
    pub size: u64,
    /// Seconds from the first scheduled publish to the end of draining.
    pub wall_seconds: f64,
    /// Message accounting (same keys as `twin run`).
    pub messages: crate::report::MessageCounts,
    /// Messages received per second over the publishing period.
    pub received_per_s: f64,
    /// Latency from the actual send.
    pub latency_ms: Option<Latency>,
    /// Latency from the intended send time (coordinated omission corrected).
    pub latency_intended_ms: Option<Latency>,
    /// How far the generator fell behind its schedule at worst, ms.
    pub schedule_lag_max_ms: f64,
}

struct SubState {
    tallies: Vec<DeviceTally>,
    actual: Histogram<u64>,
    intended: Histogram<u64>,
    malformed: u64,
}

/// Running totals a caller can sample (the CLI prints a line each second from them).
#[derive(Debug, Default)]
pub struct LoadCounters {
    /// Messages accepted by publishers' clients.
    pub sent: AtomicU64,
    /// Distinct messages the subscriber received.
    pub received: AtomicU64,
}

/// Run a publish load and report.
pub async fn publish(spec: &LoadSpec, stop: Arc<AtomicBool>) -> Result<LoadReport, RunError> {
    publish_counted(spec, stop, Arc::default()).await
}

/// As [`publish`], updating `counters` as it goes.
pub async fn publish_counted(
    spec: &LoadSpec,
    stop: Arc<AtomicBool>,
    counters: Arc<LoadCounters>,
) -> Result<LoadReport, RunError> {
    let (embedded, url) = match &spec.broker {
        Some(u) => (false, u.clone()),
        None => (true, EmbeddedBroker::start(spec.clients + 16)?.url()),
    };
    let (host, port) = scenarios::parse_broker_url(&url).map_err(RunError::BadInput)?;
    let qos = qos_of(spec.qos);
    let hist = crate::report::latency_histogram;
    let state = Arc::new(Mutex::new(SubState {
        tallies: vec![DeviceTally::default(); spec.clients],
        actual: hist(),
        intended: hist(),
        malformed: 0,
    }));
    let received = counters.clone();

    // Subscriber first, so nothing is missed.
    let filter = spec.topic.replace("%i", "+");
    let mut o = MqttOptions::new(
        format!("twin-load-sub-{}", std::process::id()),
        host.clone(),
        port,
    );
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(spec.size.max(HEADER) + 1024, spec.size.max(HEADER) + 1024);
    let (sub, mut sub_loop) = AsyncClient::new(o, 64);
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let sub_done = Arc::new(AtomicBool::new(false));
    let sub_task = {
        let state = state.clone();
        let received = received.clone();
        let done = sub_done.clone();
        let filter = filter.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            while !done.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(100), sub_loop.poll()).await {
                    Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                        let _ = sub.try_subscribe(filter.clone(), qos);
                    }
                    Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                        let now = unix_us();
                        let Ok(mut st) = state.lock() else { continue };
                        match decode(&p.payload) {
                            Some((publisher, seq, intended, sent))
                                if (publisher as usize) < st.tallies.len() =>
                            {
                                let ev = st.tallies[publisher as usize].record(seq, &[]);
                                if !ev.duplicate {
                                    let _ = st.actual.record(now.saturating_sub(sent).max(1));
                                    let _ = st.intended.record(now.saturating_sub(intended).max(1));
                                    received.received.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            _ => st.malformed += 1,
                        }
                    }
                    Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
                    _ => {}
                }
            }
        })
    };
    if tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .is_err()
    {
        sub_done.store(true, Ordering::Relaxed);
        return Err(RunError::Unreachable {
            url,
            what: "the load subscriber could not connect and subscribe".into(),
            secs: 10.0,
        });
    }

    // Publishers: one session each; a poll task and a schedule task that awaits publish.
    let interval_us = spec.interval.as_micros().max(1) as u64;
    let per_client = {
        let by_time = (spec.duration.as_micros() as u64).div_ceil(interval_us);
        spec.count.map_or(by_time, |c| c.min(by_time))
    };
    let sent: Vec<Arc<AtomicU64>> = (0..spec.clients)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let lag_max = Arc::new(AtomicU64::new(0));
    let start = Instant::now() + Duration::from_millis(200);
    let start_us = unix_us() + 200_000;
    let mut tasks = Vec::new();
    for i in 0..spec.clients {
        let mut o = MqttOptions::new(
            format!("twin-load-{}-{i}", std::process::id()),
            host.clone(),
            port,
        );
        o.set_keep_alive(Duration::from_secs(30));
        o.set_max_packet_size(spec.size.max(HEADER) + 1024, spec.size.max(HEADER) + 1024);
        let (client, mut el) = AsyncClient::new(o, 64);
        let poller = tokio::spawn(async move {
            loop {
                if el.poll().await.is_err() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        });
        let topic = spec.topic.replace("%i", &i.to_string());
        let sent = sent[i].clone();
        let stop = stop.clone();
        let lag_max = lag_max.clone();
        let counters = counters.clone();
        let size = spec.size;
        // Spread publishers over one interval so they do not fire in lockstep.
        let offset = interval_us * i as u64 / spec.clients.max(1) as u64;
        tasks.push((
            poller,
            tokio::spawn(async move {
                for seq in 0..per_client {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let due_off = offset + seq * interval_us;
                    tokio::time::sleep_until((start + Duration::from_micros(due_off)).into()).await;
                    let intended = start_us + due_off;
                    let now = unix_us();
                    lag_max.fetch_max(now.saturating_sub(intended), Ordering::Relaxed);
                    let payload = encode(i as u32, seq, intended, now, size);
                    if client.publish(&topic, qos, false, payload).await.is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                        counters.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
                client
            }),
        ));
    }
    let mut clients = Vec::new();
    for (poller, t) in tasks {
        if let Ok(c) = t.await {
            clients.push((poller, c));
        }
    }
    let publish_end = Instant::now();
    let total_sent: u64 = sent.iter().map(|s| s.load(Ordering::Relaxed)).sum();
    let deadline = Instant::now() + spec.drain;
    while counters.received.load(Ordering::Relaxed) < total_sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = (Instant::now().max(start) - start).as_secs_f64();
    let publish_secs = (publish_end.max(start) - start).as_secs_f64().max(1e-3);
    for (poller, c) in clients {
        let _ = c.try_disconnect();
        tokio::time::sleep(Duration::from_millis(1)).await;
        poller.abort();
    }
    sub_done.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(Duration::from_secs(2), sub_task).await;

    let st = state
        .lock()
        .map_err(|_| std::io::Error::other("load state poisoned"))?;
    let mut m = crate::report::MessageCounts {
        sent: 0,
        received: 0,
        lost: 0,
        duplicates: 0,
        out_of_order: 0,
        dropped_at_source: 0,
        malformed: st.malformed,
    };
    for (i, t) in st.tallies.iter().enumerate() {
        let s = sent[i].load(Ordering::Relaxed);
        m.sent += s;
        m.received += t.received;
        m.lost += s.saturating_sub(t.received);
        m.duplicates += t.duplicates;
        m.out_of_order += t.out_of_order;
    }
    Ok(LoadReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load pub".into(),
        broker: crate::report::BrokerInfo { url, embedded },
        clients: spec.clients as u64,
        qos: spec.qos,
        size: spec.size.max(HEADER) as u64,
        wall_seconds: round4(wall),
        received_per_s: round4(m.received as f64 / publish_secs),
        messages: m,
        latency_ms: Latency::of(&st.actual),
        latency_intended_ms: Latency::of(&st.intended),
        schedule_lag_max_ms: round4(lag_max.load(Ordering::Relaxed) as f64 / 1000.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_header_round_trips_and_pads() {
        let b = encode(7, 42, 1_000, 1_500, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(decode(&b), Some((7, 42, 1_000, 1_500)));
        assert_eq!(encode(1, 2, 3, 4, 0).len(), HEADER);
        assert_eq!(decode(b"TWL1short"), None);
        assert_eq!(decode(&[0u8; 64]), None);
    }
}

/// What `twin load conn` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnSpec {
    /// Sessions to open.
    pub clients: usize,
    /// New connections per second (the ramp).
    pub ramp_per_s: f64,
    /// How long to hold them once all are up (or the attempts are over).
    pub hold: Duration,
    /// Give up on a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
}

/// The report of `twin load conn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnReport {
    /// `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"load conn"`.
    pub command: String,
    /// Broker used.
    pub broker: crate::report::BrokerInfo,
    /// Sessions asked for.
    pub clients: u64,
    /// Sessions that got a CONNACK.
    pub connected: u64,
    /// Sessions that did not (refused, timed out, I/O error).
    pub failed: u64,
    /// Sessions still up at the end of the hold.
    pub held: u64,
    /// CONNECT → CONNACK latency (TCP connect included).
    pub connect_ms: Option<Latency>,
    /// Seconds from the first attempt to the last CONNACK.
    pub ramp_seconds: f64,
}

/// Open `clients` sessions at `ramp_per_s`, hold them, report connect latency.
pub async fn connect(spec: &ConnSpec, stop: Arc<AtomicBool>) -> Result<ConnReport, RunError> {
    let (embedded, url) = match &spec.broker {
        Some(u) => (false, u.clone()),
        None => (true, EmbeddedBroker::start(spec.clients + 16)?.url()),
    };
    let (host, port) = scenarios::parse_broker_url(&url).map_err(RunError::BadInput)?;
    let hist = Arc::new(Mutex::new(crate::report::latency_histogram()));
    let connected = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let alive = Arc::new(AtomicU64::new(0));
    let release = Arc::new(tokio::sync::Notify::new());
    let released = Arc::new(AtomicBool::new(false));
    let gap = Duration::from_secs_f64(1.0 / spec.ramp_per_s.max(0.001));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(spec.clients);
    for i in 0..spec.clients {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep_until((start + gap * i as u32).into()).await;
        let mut o = MqttOptions::new(
            format!("twin-conn-{}-{i}", std::process::id()),
            host.clone(),
            port,
        );
        o.set_keep_alive(Duration::from_secs(60));
        let (client, mut el) = AsyncClient::new(o, 4);
        let (hist, connected, failed, alive) = (
            hist.clone(),
            connected.clone(),
            failed.clone(),
            alive.clone(),
        );
        let (release, released) = (release.clone(), released.clone());
        let timeout = spec.connect_timeout;
        tasks.push(tokio::spawn(async move {
            let t0 = Instant::now();
            let up = tokio::time::timeout(timeout, async {
                loop {
                    match el.poll().await {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => return true,
                        Ok(_) => {}
                        Err(_) => return false,
                    }
                }
            })
            .await
            .unwrap_or(false);
            if !up {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if let Ok(mut h) = hist.lock() {
                let _ = h.record((t0.elapsed().as_micros() as u64).max(1));
            }
            connected.fetch_add(1, Ordering::Relaxed);
            alive.fetch_add(1, Ordering::Relaxed);
            // Hold: keep polling (pings) until released; a drop ends the hold early.
            loop {
                // Register for the release before checking the flag, so it cannot be missed.
                let notified = release.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if released.load(Ordering::Acquire) {
                    break;
                }
                tokio::select! {
                    _ = &mut notified => {}
                    ev = el.poll() => if ev.is_err() { alive.fetch_sub(1, Ordering::Relaxed); return; }
                }
            }
            let _ = client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_secs(1), el.poll()).await;
        }));
    }
    // Wait for every attempt to settle, then hold.
    let settle = Instant::now() + spec.connect_timeout + Duration::from_secs(1);
    while connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < tasks.len() as u64
        && Instant::now() < settle
        && !stop.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_seconds = start.elapsed().as_secs_f64();
    let hold_end = Instant::now() + spec.hold;
    while Instant::now() < hold_end && !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = alive.load(Ordering::Relaxed);
    released.store(true, Ordering::Release);
    release.notify_waiters();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    let h = hist
        .lock()
        .map_err(|_| std::io::Error::other("histogram poisoned"))?;
    Ok(ConnReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load conn".into(),
        broker: crate::report::BrokerInfo { url, embedded },
        clients: spec.clients as u64,
        connected: connected.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        held,
        connect_ms: Latency::of(&h),
        ramp_seconds: round4(ramp_seconds),
    })
}
