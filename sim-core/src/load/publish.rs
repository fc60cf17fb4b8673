//! `twin load pub`: publish load with exact accounting. Each device follows an open-loop
//! schedule (message k is due at its session's start + offset + k·interval, whatever
//! happened before), stamps each payload with its device index, `seq`, intended and
//! actual send times, and a subscriber in the same process counts every message by
//! (device, seq): exact loss, duplicates and reordering, and latency both from the actual
//! send (what the broker added) and from the intended send (coordinated omission
//! corrected: a stalled generator cannot hide delay). The publishing sessions time their
//! PUBACK (QoS 1) or PUBCOMP (QoS 2), and the tool watches its own CPU and schedule lag.
//!
//! Gateway mode: one session publishes for `devices_per_session` devices, as an edge
//! gateway does, each device with its own `seq` stream and topic.

use super::client::Protocol;
use super::conn::resolve;
use super::idle::Dial;
use super::lean_sub::{SubFailure, SubGate, SubSession, subscribe_packet};
use super::{
    BufferPolicy, Dropped, Interval, LoadCounters, Pacer, Shard, process_cpu_seconds, run_tag,
    spawn_sampler,
};
use crate::ingest::DeviceTally;
use crate::report::{Latency, histogram_to_base64, latency_histogram, round4};
use crate::run::RunError;
use crate::transport::broker::EmbeddedBroker;
use crate::transport::endpoint::{Endpoint, Security};
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Payload header: magic, publisher, seq, intended µs, sent µs.
pub const HEADER: usize = 4 + 4 + 8 + 8 + 8;
const MAGIC: &[u8; 4] = b"TWL1";

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// MQTT sessions over all shards.
    pub clients: usize,
    /// Devices each session publishes for (1 = one device per session; more = gateway).
    pub devices_per_session: usize,
    /// Time between two messages of one device.
    pub interval: Duration,
    /// QoS of publish and subscribe.
    pub qos: u8,
    /// Publish with the retain flag.
    pub retain: bool,
    /// Payload size in bytes (at least the 32-byte header).
    pub size: usize,
    /// Topic template: `%i` device index, `%c` client id, `%s` shard index.
    pub topic: String,
    /// How long each session publishes once connected.
    pub duration: Duration,
    /// Messages per device, if bounded by count (the smaller bound wins).
    pub count: Option<u64>,
    /// How long to wait for stragglers after the last publish.
    pub drain: Duration,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
    /// New sessions per second; `None`: as fast as the broker accepts them.
    pub ramp_per_s: Option<f64>,
    /// Give up on a session that has no CONNACK after this long.
    pub connect_timeout: Duration,
    /// Which slice of the clients this process runs.
    pub shard: Shard,
    /// TLS and credentials.
    pub security: Security,
    /// MQTT 3.1.1 or 5.
    pub protocol: Protocol,
    /// Local addresses the publishing sessions connect from, round-robin.
    pub source_ips: Vec<std::net::IpAddr>,
    /// Subscribers counting the messages (more than one share the subscription).
    pub subscribers: usize,
    /// A JSON object to publish instead of padding (`%i`, `%c`, `%s` filled in per
    /// device); the accounting goes in as its first member, `"twl"`.
    pub payload: Option<String>,
    /// Most QoS 1/2 messages a session has awaiting acknowledgement.
    pub inflight: usize,
    /// Most messages a device keeps while it cannot write them.
    pub buffer: usize,
    /// Most bytes a device keeps while it cannot write them.
    pub buffer_bytes: usize,
    /// What a device does with a due message when its buffer is full.
    pub buffer_policy: BufferPolicy,
    /// Ask the broker to keep the sessions (clean session off; MQTT 5: a session
    /// expiry of [`PERSISTENT_EXPIRY_S`]), so the subscriber's subscription and its
    /// queued messages survive a lost connection.
    pub persistent: bool,
}

/// Session expiry of `persistent` MQTT 5 sessions, seconds: long enough to ride out a
/// broker restart, short enough not to leave a load run's sessions behind for long.
pub const PERSISTENT_EXPIRY_S: u32 = 300;

/// Reconnection attempts per second over a run when `--ramp` does not set it.
pub const DEFAULT_RECONNECT_RATE: f64 = 1000.0;

impl Default for LoadSpec {
    fn default() -> Self {
        LoadSpec {
            clients: 10,
            devices_per_session: 1,
            interval: Duration::from_millis(100),
            qos: 1,
            retain: false,
            size: 64,
            topic: "twin-load/%s/%i".into(),
            duration: Duration::from_secs(10),
            count: None,
            drain: Duration::from_secs(5),
            broker: None,
            ramp_per_s: None,
            connect_timeout: Duration::from_secs(10),
            shard: Shard::default(),
            security: Security::default(),
            protocol: Protocol::V311,
            source_ips: Vec::new(),
            payload: None,
            subscribers: 1,
            inflight: 20,
            buffer: 1000,
            buffer_bytes: 1 << 20,
            buffer_policy: BufferPolicy::default(),
            persistent: false,
        }
    }
}

/// Encode a load payload.
pub fn encode(publisher: u32, seq: u64, intended_us: u64, sent_us: u64, size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(size.max(HEADER));
    encode_into(&mut b, publisher, seq, intended_us, sent_us, size);
    b
}

/// As [`encode`], appending to `b` (publishers reuse one buffer).
pub fn encode_into(
    b: &mut Vec<u8>,
    publisher: u32,
    seq: u64,
    intended_us: u64,
    sent_us: u64,
    size: usize,
) {
    let start = b.len();
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&publisher.to_le_bytes());
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&intended_us.to_le_bytes());
    b.extend_from_slice(&sent_us.to_le_bytes());
    b.resize(start + size.max(HEADER), b'.');
}

/// The key a JSON load payload starts with: `{"twl":"publisher.seq.intended.sent",...`.
const JSON_KEY: &[u8] = b"{\"twl\":\"";

/// Encode a load payload whose body is a JSON object (`template`, e.g. realistic
/// telemetry): the accounting goes in as its first member, so the payload stays JSON
/// that a broker's rule engine or a downstream consumer can parse.
pub fn encode_json(
    publisher: u32,
    seq: u64,
    intended_us: u64,
    sent_us: u64,
    template: &str,
) -> Vec<u8> {
    let mut b = Vec::new();
    encode_json_into(&mut b, publisher, seq, intended_us, sent_us, template);
    b
}

/// As [`encode_json`], appending to `b`.
pub fn encode_json_into(
    b: &mut Vec<u8>,
    publisher: u32,
    seq: u64,
    intended_us: u64,
    sent_us: u64,
    template: &str,
) {
    use std::io::Write as _;
    let rest = template
        .trim_start()
        .strip_prefix('{')
        .unwrap_or("}")
        .trim_start();
    let sep = if rest.starts_with('}') { "" } else { "," };
    // Writing into a Vec cannot fail.
    let _ = write!(
        b,
        "{{\"twl\":\"{publisher}.{seq}.{intended_us}.{sent_us}\"{sep}{rest}"
    );
}

/// Decode a load payload, binary or JSON: (publisher, seq, intended µs, sent µs).
pub fn decode(b: &[u8]) -> Option<(u32, u64, u64, u64)> {
    if let Some(rest) = b.strip_prefix(JSON_KEY) {
        let end = rest.iter().position(|c| *c == b'"')?;
        let text = std::str::from_utf8(&rest[..end]).ok()?;
        let mut it = text.split('.');
        let mut next = || it.next().and_then(|v| v.parse::<u64>().ok());
        let publisher = u32::try_from(next()?).ok()?;
        return Some((publisher, next()?, next()?, next()?));
    }
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

/// Session connection outcome (`connect` in the load reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConnectCounts {
    /// Sessions that got a CONNACK.
    pub connected: u64,
    /// Sessions that got none within the connect timeout.
    pub failed: u64,
    /// Connection errors seen while publishing (each followed by a reconnect attempt).
    pub errors: u64,
    /// Publishing sessions' connections made again after a lost one.
    #[serde(default)]
    pub reconnects: u64,
    /// The counting subscribers' connections made again after a lost one.
    #[serde(default)]
    pub subscriber_reconnects: u64,
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
    /// `"i/N"` for one shard; absent for a whole run or a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// How many reports were merged into this one (1 for a single run).
    #[serde(default = "super::one")]
    pub merged: u64,
    /// Sessions this report covers.
    pub clients: u64,
    /// Devices this report covers (sessions × devices per session).
    pub devices: u64,
    /// Devices at least one of whose messages came back.
    #[serde(default)]
    pub devices_seen: u64,
    /// QoS.
    pub qos: u8,
    /// Payload bytes (with `--payload`, the template's length; each message adds its
    /// `"twl"` member).
    pub size: u64,
    /// Seconds from the first session start to the end of draining.
    pub wall_seconds: f64,
    /// Message accounting (same keys as `twin run`).
    pub messages: crate::report::MessageCounts,
    /// PUBACKs (QoS 1) or PUBCOMPs (QoS 2) received.
    pub acked: u64,
    /// Messages not sent, by reason (their sum is `messages.dropped_at_source`).
    #[serde(default)]
    pub dropped: Dropped,
    /// QoS 1/2 messages written again after a lost connection (each counted once in
    /// `sent`; a copy that reaches the subscriber twice is a duplicate).
    #[serde(default)]
    pub retransmitted: u64,
    /// Messages from devices outside this shard, seen by its subscriber and ignored.
    pub foreign: u64,
    /// Session connection outcome.
    pub connect: ConnectCounts,
    /// Messages received per second over the publishing period.
    pub received_per_s: f64,
    /// Latency from the actual send.
    pub latency_ms: Option<Latency>,
    /// Latency from the intended send time (coordinated omission corrected).
    pub latency_intended_ms: Option<Latency>,
    /// PUBLISH → PUBACK (QoS 1) or PUBCOMP (QoS 2).
    pub ack_ms: Option<Latency>,
    /// TCP connect + CONNECT → CONNACK.
    pub connect_ms: Option<Latency>,
    /// How late each publish left against its schedule.
    pub schedule_lag_ms: Option<Latency>,
    /// How far the generator fell behind its schedule at worst, ms.
    pub schedule_lag_max_ms: f64,
    /// CPU seconds (user + system) this process used.
    pub cpu_seconds: f64,
    /// True when the generator, not the broker, was the bottleneck: its schedule lag
    /// p99 exceeded 50 ms while it used most of a core or more.
    pub generator_behind: bool,
    /// The histograms behind the percentiles (µs, HdrHistogram V2 deflate, base64), so
    /// `twin report merge` adds shards exactly.
    pub histograms: BTreeMap<String, String>,
}

struct SubState {
    tallies: Vec<DeviceTally>,
    actual: Histogram<u64>,
    intended: Histogram<u64>,
    interval: Histogram<u64>,
    malformed: u64,
    foreign: u64,
}

/// Run a publish load and report.
pub async fn publish(spec: &LoadSpec, stop: Arc<AtomicBool>) -> Result<LoadReport, RunError> {
    publish_counted(spec, stop, None).await
}

/// The subscription filter for a topic template: levels holding `%i` or `%c` become
/// `+`, `%s` becomes the shard index.
pub fn filter_of(template: &str, shard: usize) -> String {
    template
        .split('/')
        .map(|level| {
            if level.contains("%i") || level.contains("%c") {
                "+".to_string()
            } else {
                level.replace("%s", &shard.to_string())
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn topic_of(template: &str, device: usize, client_id: &str, shard: usize) -> String {
    template
        .replace("%i", &device.to_string())
        .replace("%c", client_id)
        .replace("%s", &shard.to_string())
}

/// As [`publish`], sending an [`Interval`] each second to `intervals`.
pub async fn publish_counted(
    spec: &LoadSpec,
    stop: Arc<AtomicBool>,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
) -> Result<LoadReport, RunError> {
    let sessions = spec.shard.range(spec.clients);
    let dps = spec.devices_per_session.max(1);
    let dev_base = sessions.start * dps;
    let n_devices = sessions.len() * dps;
    if dev_base + n_devices > u32::MAX as usize {
        return Err(RunError::BadInput(format!(
            "{} devices do not fit the 32-bit device index",
            spec.clients * dps
        )));
    }
    let (embedded, url) = match &spec.broker {
        Some(u) => (false, u.clone()),
        None => (true, EmbeddedBroker::start(sessions.len() + 16)?.url()),
    };
    let ep = Endpoint::new(&url, &spec.security).map_err(RunError::from)?;
    let counters = Arc::new(LoadCounters::default());
    let cpu0 = process_cpu_seconds();
    let state = Arc::new(Mutex::new(SubState {
        tallies: vec![DeviceTally::default(); n_devices],
        actual: latency_histogram(),
        intended: latency_histogram(),
        interval: latency_histogram(),
        malformed: 0,
        foreign: 0,
    }));
    let tag = run_tag();

    // Subscriber first, so nothing is missed.
    let filter = filter_of(&spec.topic, spec.shard.index);
    let keep_alive = Duration::from_secs(30);
    // Several subscribers share the subscription (`$share`): each has its own in-flight
    // window at the broker, so delivery is not held to one session's window.
    let n_subs = spec.subscribers.max(1);
    let sub_filter = if n_subs > 1 {
        format!("$share/twin-{tag}/{filter}")
    } else {
        filter.clone()
    };
    let broker = resolve(&ep.host, ep.port, &spec.source_ips).await?;
    let tls = match ep.tls_config() {
        Some(config) => Some(Arc::new(super::idle::Tls {
            config,
            server_name: rustls::pki_types::ServerName::try_from(ep.host.clone())
                .map_err(|e| RunError::BadInput(format!("broker host {}: {e}", ep.host)))?,
        })),
        None => None,
    };
    let keep_alive_s = keep_alive.as_secs() as u16;
    let v5 = spec.protocol == Protocol::V5;
    let persistent = spec.persistent.then_some(PERSISTENT_EXPIRY_S);
    // Open while every counting subscriber is subscribed.
    let gate = Arc::new(SubGate {
        need: n_subs,
        up: std::sync::atomic::AtomicUsize::new(0),
        tx: tokio::sync::watch::channel(false).0,
    });
    let subscribe = subscribe_packet(1, &sub_filter, spec.qos, v5)
        .map_err(|e| RunError::BadInput(e.to_string()))?;
    let (sub_release, sub_release_rx) = tokio::sync::watch::channel(false);
    let (mut sub_tasks, mut readies) = (Vec::new(), Vec::new());
    for i in 0..n_subs {
        let session = SubSession {
            dial: Dial {
                broker,
                source: None,
                connect: super::idle::connect_packet(
                    &format!("twin-load-sub-{tag}-{i}"),
                    keep_alive_s,
                    v5,
                    ep.credentials(),
                    persistent,
                )
                .map_err(|e| RunError::BadInput(e.to_string()))?,
                tls: tls.clone(),
            },
            v5,
            subscribe: subscribe.clone(),
            keep_alive,
            connect_timeout: spec.connect_timeout,
            gate: Some(gate.clone()),
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        readies.push(ready_rx);
        let state = state.clone();
        let counters = counters.clone();
        sub_tasks.push(tokio::spawn(session.run(
            ready_tx,
            sub_release_rx.clone(),
            move |batch| {
                let now = unix_us();
                let Ok(mut st) = state.lock() else { return };
                let mut fresh = 0;
                for payload in batch.iter() {
                    let Some((publisher, seq, intended, sent)) = decode(payload) else {
                        st.malformed += 1;
                        continue;
                    };
                    let Some(d) = (publisher as usize)
                        .checked_sub(dev_base)
                        .filter(|d| *d < n_devices)
                    else {
                        st.foreign += 1;
                        continue;
                    };
                    if !st.tallies[d].record(seq, &[]).duplicate {
                        let lat = now.saturating_sub(sent).max(1);
                        st.actual.saturating_record(lat);
                        st.interval.saturating_record(lat);
                        st.intended
                            .saturating_record(now.saturating_sub(intended).max(1));
                        fresh += 1;
                    }
                }
                counters.received.fetch_add(fresh, Ordering::Relaxed);
            },
        )));
    }
    // A broker not there yet is retried (with backoff) until the connect timeout.
    let ready_by = tokio::time::Instant::now() + spec.connect_timeout;
    for ready_rx in readies {
        match tokio::time::timeout_at(ready_by, ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(SubFailure::Refused(why)))) => {
                return Err(RunError::Refused { url, why });
            }
            _ => {
                return Err(RunError::Unreachable {
                    url,
                    what: "the load subscriber could not connect and subscribe".into(),
                    secs: spec.connect_timeout.as_secs_f64(),
                });
            }
        }
    }

    // The sampler: one `Interval` a second.
    let run_start = Instant::now();
    let sampler = intervals.map(|tx| {
        let state = state.clone();
        spawn_sampler(counters.clone(), run_start, tx, move || {
            match state.lock() {
                Ok(mut st) => {
                    let h = st.interval.clone();
                    st.interval.reset();
                    h
                }
                Err(_) => latency_histogram(),
            }
        })
    });

    // Publishing sessions: one task each, owning its socket (see `lean`).
    let interval_us = spec.interval.as_micros().max(1) as u64;
    let per_device = {
        let by_time = (spec.duration.as_micros() as u64).div_ceil(interval_us);
        spec.count.map_or(by_time, |c| c.min(by_time))
    };
    // A session's messages, round-robin over its devices, one every `step` µs.
    let step_us = (interval_us / dps as u64).max(1);
    let per_session = per_device * dps as u64;
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let connecting = Arc::new(Semaphore::new(256));
    let hists = Arc::new(super::lean::RunHistograms::default());
    let pacer = Arc::new(Pacer::new(
        spec.ramp_per_s.unwrap_or(DEFAULT_RECONNECT_RATE),
    ));
    let gap = spec
        .ramp_per_s
        .map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
    let mut tasks = Vec::with_capacity(sessions.len());
    for (k, s) in sessions.clone().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(gap) = gap {
            tokio::time::sleep_until((run_start + gap * k as u32).into()).await;
        }
        let client_id = format!("twin-load-{tag}-{s}");
        let connect =
            super::idle::connect_packet(&client_id, keep_alive_s, v5, ep.credentials(), persistent)
                .map_err(|e| RunError::BadInput(e.to_string()))?;
        let topics = (0..dps)
            .map(|j| topic_of(&spec.topic, s * dps + j, &client_id, spec.shard.index).into_bytes())
            .collect();
        let bodies = spec.payload.as_ref().map(|t| {
            (0..dps)
                .map(|j| topic_of(t, s * dps + j, &client_id, spec.shard.index))
                .collect()
        });
        let session = super::lean::PubSession {
            dial: Dial {
                broker,
                source: (!spec.source_ips.is_empty())
                    .then(|| spec.source_ips[s % spec.source_ips.len()]),
                connect,
                tls: tls.clone(),
            },
            v5,
            qos: spec.qos,
            retain: spec.retain,
            size: spec.size,
            topics,
            bodies,
            first_device: (s * dps) as u32,
            messages: per_session,
            step_us,
            // Spread sessions over one step so they do not fire in lockstep.
            offset_us: step_us * k as u64 / sessions.len().max(1) as u64,
            keep_alive,
            connect_timeout: spec.connect_timeout,
            inflight: spec.inflight.max(1),
            buffer: spec.buffer.max(1).saturating_mul(dps),
            buffer_bytes: spec.buffer_bytes.max(1).saturating_mul(dps),
            policy: spec.buffer_policy,
            gate: gate.tx.subscribe(),
            pacer: pacer.clone(),
        };
        tasks.push(tokio::spawn(session.run(
            counters.clone(),
            stop.clone(),
            release_rx.clone(),
            connecting.clone(),
            hists.clone(),
        )));
    }
    // Every session has its schedule written (or gave up) when `sent` stops short of
    // nothing: wait for the schedule's end, then for the subscriber and the acks.
    let expected = per_session * tasks.len() as u64;
    let schedule_end = run_start
        + gap.map_or(Duration::ZERO, |g| g * tasks.len() as u32)
        + spec.connect_timeout
        + Duration::from_micros(per_session.saturating_mul(step_us) + step_us);
    while counters.sent.load(Ordering::Relaxed) + counters.dropped.load(Ordering::Relaxed)
        < expected
        && Instant::now() < schedule_end
        && !stop.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let publish_end = Instant::now();
    let total_sent = counters.sent.load(Ordering::Relaxed);
    let deadline = Instant::now() + spec.drain;
    while (counters.received.load(Ordering::Relaxed) < total_sent
        || (spec.qos > 0 && counters.acked.load(Ordering::Relaxed) < total_sent))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = release_tx.send(true);
    let mut sent = vec![0u64; n_devices];
    let mut connect = latency_histogram();
    let (mut connected, mut failed) = (0u64, 0u64);
    let mut first_start: Option<Instant> = None;
    let mut dropped = Dropped::default();
    for (k, t) in tasks.into_iter().enumerate() {
        let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(5), t).await else {
            tracing::debug!("a load session did not end within 5 s");
            continue;
        };
        for (j, n) in o.sent.iter().enumerate() {
            sent[k * dps + j] = *n;
        }
        dropped.add(&o.dropped);
        if o.connected {
            connected += 1;
        } else {
            failed += 1;
        }
        if let Some(us) = o.connect_us {
            connect.saturating_record(us);
        }
        if let Some(st) = o.start.map(Instant::from) {
            first_start = Some(first_start.map_or(st, |f| f.min(st)));
        }
    }
    let start: Instant = first_start.unwrap_or(run_start);
    let take = |h: &Mutex<Histogram<u64>>| {
        h.lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| latency_histogram())
    };
    let (ack, lag) = (take(&hists.ack), take(&hists.lag));
    let wall = (Instant::now().max(start) - start).as_secs_f64();
    let publish_secs = (publish_end.max(start) - start).as_secs_f64().max(1e-3);
    let _ = sub_release.send(true);
    let mut subscriber_reconnects = 0;
    for t in sub_tasks {
        if let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(3), t).await {
            subscriber_reconnects += o.reconnects;
        }
    }
    if let Some(s) = sampler {
        s.abort();
    }
    let cpu_seconds = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };

    let st = state
        .lock()
        .map_err(|_| std::io::Error::other("load state poisoned"))?;
    let mut m = crate::report::MessageCounts {
        sent: 0,
        received: 0,
        lost: 0,
        duplicates: 0,
        out_of_order: 0,
        dropped_at_source: dropped.total(),
        malformed: st.malformed,
    };
    for (i, t) in st.tallies.iter().enumerate() {
        let s = sent[i];
        m.sent += s;
        m.received += t.received;
        m.lost += s.saturating_sub(t.received);
        m.duplicates += t.duplicates;
        m.out_of_order += t.out_of_order;
    }
    let lag_p99_ms = if lag.is_empty() {
        0.0
    } else {
        lag.value_at_quantile(0.99) as f64 / 1000.0
    };
    let mut histograms = BTreeMap::new();
    for (name, h) in [
        ("latency", &st.actual),
        ("intended", &st.intended),
        ("ack", &ack),
        ("connect", &connect),
        ("schedule_lag", &lag),
    ] {
        histograms.insert(name.to_string(), histogram_to_base64(h));
    }
    Ok(LoadReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load pub".into(),
        broker: crate::report::BrokerInfo { url, embedded },
        shard: spec.shard.label(),
        merged: 1,
        clients: sessions.len() as u64,
        devices: n_devices as u64,
        devices_seen: st.tallies.iter().filter(|t| t.received > 0).count() as u64,
        qos: spec.qos,
        size: spec
            .payload
            .as_ref()
            .map_or(spec.size.max(HEADER), String::len) as u64,
        wall_seconds: round4(wall),
        received_per_s: round4(m.received as f64 / publish_secs),
        messages: m,
        acked: counters.acked.load(Ordering::Relaxed),
        dropped,
        retransmitted: counters.retransmitted.load(Ordering::Relaxed),
        foreign: st.foreign,
        connect: ConnectCounts {
            connected,
            failed,
            errors: counters.errors.load(Ordering::Relaxed),
            reconnects: counters.reconnects.load(Ordering::Relaxed),
            subscriber_reconnects,
        },
        latency_ms: Latency::of(&st.actual),
        latency_intended_ms: Latency::of(&st.intended),
        ack_ms: Latency::of(&ack),
        connect_ms: Latency::of(&connect),
        schedule_lag_ms: Latency::of(&lag),
        schedule_lag_max_ms: round4(lag.max() as f64 / 1000.0),
        cpu_seconds: round4(cpu_seconds),
        generator_behind: lag_p99_ms > 50.0 && cpu_seconds / wall.max(1e-3) > 0.8,
        histograms,
    })
}

/// Add shard reports of one `twin load pub` into one: counts and histograms add (so
/// the merged percentiles are those of one run over all the messages), wall time is the
/// longest shard's.
pub fn merge(reports: &[LoadReport]) -> Result<LoadReport, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    let mut out = first.clone();
    out.shard = None;
    out.merged = 0;
    out.clients = 0;
    out.devices = 0;
    out.devices_seen = 0;
    out.messages = crate::report::MessageCounts {
        sent: 0,
        received: 0,
        lost: 0,
        duplicates: 0,
        out_of_order: 0,
        dropped_at_source: 0,
        malformed: 0,
    };
    out.acked = 0;
    out.dropped = Dropped::default();
    out.retransmitted = 0;
    out.foreign = 0;
    out.connect = ConnectCounts::default();
    out.received_per_s = 0.0;
    out.cpu_seconds = 0.0;
    out.wall_seconds = 0.0;
    out.generator_behind = false;
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for r in reports {
        if r.command != first.command || r.qos != first.qos {
            return Err(format!(
                "cannot merge a {} report at QoS {} with a {} report at QoS {}",
                r.command, r.qos, first.command, first.qos
            ));
        }
        out.merged += r.merged;
        out.clients += r.clients;
        out.devices += r.devices;
        out.devices_seen += r.devices_seen;
        let (a, b) = (&mut out.messages, &r.messages);
        a.sent += b.sent;
        a.received += b.received;
        a.lost += b.lost;
        a.duplicates += b.duplicates;
        a.out_of_order += b.out_of_order;
        a.dropped_at_source += b.dropped_at_source;
        a.malformed += b.malformed;
        out.acked += r.acked;
        out.dropped.add(&r.dropped);
        out.retransmitted += r.retransmitted;
        out.foreign += r.foreign;
        out.connect.connected += r.connect.connected;
        out.connect.failed += r.connect.failed;
        out.connect.errors += r.connect.errors;
        out.connect.reconnects += r.connect.reconnects;
        out.connect.subscriber_reconnects += r.connect.subscriber_reconnects;
        out.received_per_s += r.received_per_s;
        out.cpu_seconds += r.cpu_seconds;
        out.wall_seconds = out.wall_seconds.max(r.wall_seconds);
        out.generator_behind |= r.generator_behind;
        super::add_histograms(&mut hists, &r.histograms)?;
    }
    let get = |n: &str| hists.get(n).and_then(Latency::of);
    out.latency_ms = get("latency");
    out.latency_intended_ms = get("intended");
    out.ack_ms = get("ack");
    out.connect_ms = get("connect");
    out.schedule_lag_ms = get("schedule_lag");
    out.schedule_lag_max_ms = out.schedule_lag_ms.map_or(0.0, |l| l.max);
    out.received_per_s = round4(out.received_per_s);
    out.cpu_seconds = round4(out.cpu_seconds);
    out.histograms = hists
        .iter()
        .map(|(k, h)| (k.clone(), histogram_to_base64(h)))
        .collect();
    Ok(out)
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

    #[test]
    fn json_payloads_carry_the_accounting_and_stay_json() {
        let b = encode_json(3, 9, 100, 150, r#"{"temperature": 21.5, "unit": "C"}"#);
        let v: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
        assert_eq!(v["temperature"], 21.5);
        assert_eq!(v["twl"], "3.9.100.150");
        assert_eq!(decode(&b), Some((3, 9, 100, 150)));
        let empty = encode_json(1, 2, 3, 4, "{}");
        assert_eq!(empty, br#"{"twl":"1.2.3.4"}"#);
        assert_eq!(decode(br#"{"twl":"1.x.3.4"}"#), None);
        assert_eq!(decode(br#"{"temperature": 1}"#), None);
    }

    #[test]
    fn filters_and_topics_follow_the_template() {
        assert_eq!(filter_of("twin-load/%s/%i", 3), "twin-load/3/+");
        assert_eq!(filter_of("a/dev-%i/%c/x", 0), "a/+/+/x");
        assert_eq!(topic_of("t/%s/%c/%i", 12, "cid", 2), "t/2/cid/12");
    }

    #[test]
    fn cpu_time_is_read() {
        let c = process_cpu_seconds().expect("/proc/self/stat");
        assert!(c >= 0.0);
    }
}
