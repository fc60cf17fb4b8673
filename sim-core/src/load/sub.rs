//! `twin load sub`: N subscribers on a topic filter. Each counts what it receives; for
//! payloads that carry `twin load pub`'s header (publisher, `seq`, send time) it also
//! counts duplicates, reordering and the gaps in each publisher's `seq` (messages lost
//! between the first and the last one it saw), and measures latency from the send time.
//! Other payloads (a real fleet's telemetry, another tool's load) count as untimed.

use super::client::{Ev, Protocol, session};
use super::{Interval, LoadCounters, Shard, decode, run_tag, spawn_sampler};
use crate::ingest::DeviceTally;
use crate::report::{Latency, histogram_to_base64, latency_histogram, round4};
use crate::run::RunError;
use crate::transport::broker::EmbeddedBroker;
use crate::transport::endpoint::{Endpoint, Security};
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// What `twin load sub` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SubSpec {
    /// Subscribing sessions over all shards.
    pub clients: usize,
    /// Topic filter (MQTT wildcards allowed).
    pub filter: String,
    /// Subscription QoS.
    pub qos: u8,
    /// How long to listen once subscribed.
    pub duration: Duration,
    /// Stop a subscriber after it received this many messages.
    pub count: Option<u64>,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
    /// Give up on a session with no SUBACK after this long.
    pub connect_timeout: Duration,
    /// Which slice of the clients this process runs.
    pub shard: Shard,
    /// TLS and credentials.
    pub security: Security,
    /// MQTT 3.1.1 or 5.
    pub protocol: Protocol,
}

impl Default for SubSpec {
    fn default() -> Self {
        SubSpec {
            clients: 1,
            filter: "twin-load/#".into(),
            qos: 1,
            duration: Duration::from_secs(10),
            count: None,
            broker: None,
            connect_timeout: Duration::from_secs(10),
            shard: Shard::default(),
            security: Security::default(),
            protocol: Protocol::V311,
        }
    }
}

/// What the subscribers counted, summed over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SubCounts {
    /// Messages received, all kinds, duplicates included.
    pub received: u64,
    /// Distinct timed messages (publisher, seq).
    pub distinct: u64,
    /// Timed messages whose seq had been received before by the same subscriber.
    pub duplicates: u64,
    /// Timed messages whose seq was below the highest already seen from their publisher.
    pub out_of_order: u64,
    /// Seqs missing between the first and the last seen of each publisher.
    pub gaps: u64,
    /// Payloads without the load header.
    pub untimed: u64,
}

/// The report of `twin load sub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubReport {
    /// `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"load sub"`.
    pub command: String,
    /// Broker used.
    pub broker: crate::report::BrokerInfo,
    /// `"i/N"` for one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Subscribing sessions.
    pub clients: u64,
    /// Subscribers that got their SUBACK.
    pub subscribed: u64,
    /// The topic filter.
    pub filter: String,
    /// QoS.
    pub qos: u8,
    /// Seconds listened.
    pub wall_seconds: f64,
    /// Counts over all subscribers.
    pub messages: SubCounts,
    /// Distinct publishers seen (timed payloads).
    pub publishers: u64,
    /// Messages received per second, all subscribers together.
    pub received_per_s: f64,
    /// Latency from the send time in the payload.
    pub latency_ms: Option<Latency>,
    /// The histogram behind it (µs, HdrHistogram V2 deflate, base64).
    pub histograms: BTreeMap<String, String>,
}

struct Tally {
    per_publisher: HashMap<u32, (DeviceTally, u64)>,
    counts: SubCounts,
    latency: Histogram<u64>,
}

/// Subscribe `clients` sessions, listen for `duration` (or until `count` each, or
/// `stop`), and report.
pub async fn subscribe(
    spec: &SubSpec,
    stop: Arc<AtomicBool>,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
) -> Result<SubReport, RunError> {
    let sessions = spec.shard.range(spec.clients);
    let (embedded, url) = match &spec.broker {
        Some(u) => (false, u.clone()),
        None => (true, EmbeddedBroker::start(sessions.len() + 16)?.url()),
    };
    let ep = Endpoint::new(&url, &spec.security).map_err(RunError::from)?;
    let qos = spec.qos;
    let counters = Arc::new(LoadCounters::default());
    let interval_hist = Arc::new(Mutex::new(latency_histogram()));
    let subscribed = Arc::new(AtomicU64::new(0));
    let listening = Arc::new(tokio::sync::Notify::new());
    let tag = run_tag();
    let run_start = Instant::now();
    let sampler = intervals.map(|tx| {
        let h = interval_hist.clone();
        spawn_sampler(counters.clone(), run_start, tx, move || match h.lock() {
            Ok(mut h) => {
                let out = h.clone();
                h.reset();
                out
            }
            Err(_) => latency_histogram(),
        })
    });
    let end = Arc::new(Mutex::new(None::<Instant>));
    let refused = Arc::new(Mutex::new(None::<String>));
    let mut tasks = Vec::new();
    for s in sessions.clone() {
        let (client, mut el) = session(
            &ep,
            spec.protocol,
            format!("twin-sub-{tag}-{s}"),
            Duration::from_secs(30),
            1 << 20,
            16,
        );
        let (filter, counters, interval_hist, subscribed, stop, end, listening, refused) = (
            spec.filter.clone(),
            counters.clone(),
            interval_hist.clone(),
            subscribed.clone(),
            stop.clone(),
            end.clone(),
            listening.clone(),
            refused.clone(),
        );
        let (count, timeout) = (spec.count, spec.connect_timeout);
        tasks.push(tokio::spawn(async move {
            let mut t = Tally {
                per_publisher: HashMap::new(),
                counts: SubCounts::default(),
                latency: latency_histogram(),
            };
            let began = Instant::now();
            let mut up = false;
            loop {
                if stop.load(Ordering::Relaxed) || count.is_some_and(|c| t.counts.received >= c) {
                    break;
                }
                let deadline = match end.lock().ok().and_then(|e| *e) {
                    Some(e) => e,
                    None if !up => began + timeout,
                    // Subscribed, and the listening period has not been set yet.
                    None => Instant::now() + Duration::from_millis(100),
                };
                let ev = tokio::select! {
                    ev = el.next() => ev,
                    _ = tokio::time::sleep_until(deadline.into()) => {
                        if !up || end.lock().ok().and_then(|e| *e).is_some() { break; }
                        continue;
                    }
                    _ = listening.notified() => continue,
                };
                match ev {
                    Ev::ConnAck => client.try_subscribe(&filter, qos),
                    Ev::SubAck if !up => {
                        up = true;
                        subscribed.fetch_add(1, Ordering::Relaxed);
                        counters.connections.fetch_add(1, Ordering::Relaxed);
                    }
                    Ev::Publish(payload) => {
                        t.counts.received += 1;
                        counters.received.fetch_add(1, Ordering::Relaxed);
                        let Some((publisher, seq, _, sent)) = decode(&payload) else {
                            t.counts.untimed += 1;
                            continue;
                        };
                        let (tally, low) = t
                            .per_publisher
                            .entry(publisher)
                            .or_insert_with(|| (DeviceTally::default(), seq));
                        *low = (*low).min(seq);
                        if !tally.record(seq, &[]).duplicate {
                            let lat = unix_us().saturating_sub(sent).max(1);
                            t.latency.saturating_record(lat);
                            if let Ok(mut h) = interval_hist.lock() {
                                h.saturating_record(lat);
                            }
                        }
                    }
                    Ev::Error(fatal) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        // A refusal or a TLS failure will not heal by retrying: no storm.
                        if let Some(why) = fatal {
                            if let Ok(mut r) = refused.lock() {
                                r.get_or_insert(why);
                            }
                            break;
                        }
                        if up {
                            up = false;
                            counters.connections.fetch_sub(1, Ordering::Relaxed);
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    _ => {}
                }
            }
            client.try_disconnect();
            let _ = tokio::time::timeout(Duration::from_millis(500), el.next()).await;
            for (tally, low) in t.per_publisher.values() {
                t.counts.distinct += tally.received;
                t.counts.duplicates += tally.duplicates;
                t.counts.out_of_order += tally.out_of_order;
                if let Some(high) = tally.highest_seq {
                    t.counts.gaps += (high - low + 1).saturating_sub(tally.received);
                }
            }
            t
        }));
    }
    // Listen from the moment every subscriber is in (or the connect timeout passed).
    let wait_until = Instant::now() + spec.connect_timeout;
    while subscribed.load(Ordering::Relaxed) < sessions.len() as u64
        && Instant::now() < wait_until
        && !stop.load(Ordering::Relaxed)
    {
        if let Some(why) = refused.lock().ok().and_then(|r| r.clone()) {
            for task in &tasks {
                task.abort();
            }
            return Err(RunError::Refused { url, why });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let listen_start = Instant::now();
    if let Ok(mut e) = end.lock() {
        *e = Some(listen_start + spec.duration);
    }
    listening.notify_waiters();
    let mut counts = SubCounts::default();
    let mut latency = latency_histogram();
    let mut publishers = std::collections::HashSet::new();
    for task in tasks {
        let Ok(t) = task.await else { continue };
        counts.received += t.counts.received;
        counts.distinct += t.counts.distinct;
        counts.duplicates += t.counts.duplicates;
        counts.out_of_order += t.counts.out_of_order;
        counts.gaps += t.counts.gaps;
        counts.untimed += t.counts.untimed;
        let _ = latency.add(&t.latency);
        publishers.extend(t.per_publisher.keys().copied());
    }
    if let Some(s) = sampler {
        s.abort();
    }
    let wall = listen_start.elapsed().as_secs_f64();
    Ok(SubReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load sub".into(),
        broker: crate::report::BrokerInfo { url, embedded },
        shard: spec.shard.label(),
        clients: sessions.len() as u64,
        subscribed: subscribed.load(Ordering::Relaxed),
        filter: spec.filter.clone(),
        qos: spec.qos,
        wall_seconds: round4(wall),
        received_per_s: round4(counts.received as f64 / wall.max(1e-3)),
        messages: counts,
        publishers: publishers.len() as u64,
        latency_ms: Latency::of(&latency),
        histograms: BTreeMap::from([("latency".to_string(), histogram_to_base64(&latency))]),
    })
}
