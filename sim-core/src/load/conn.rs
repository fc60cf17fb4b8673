//! `twin load conn`: open sessions at a ramp rate, hold them, report connect latency,
//! refusals and what each held session costs this process in memory.
//!
//! Sessions are [`idle`](super::idle) MQTT 3.1.1 connections, a few hundred bytes of
//! state each, so one process can hold tens of thousands; `source_ips` spreads them over
//! several local addresses (each gets its own range of ephemeral ports towards the broker),
//! and `shard` splits one run over several processes whose reports
//! [`merge_conn`] adds.

use super::idle::{self, IdleError};
use super::{Shard, add_histograms, process_rss_kib, run_tag};
use crate::report::{Latency, histogram_to_base64, latency_histogram, round4};
use crate::run::RunError;
use crate::transport::broker::EmbeddedBroker;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What `twin load conn` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnSpec {
    /// Sessions over all shards.
    pub clients: usize,
    /// New connections per second (the ramp) in this process.
    pub ramp_per_s: f64,
    /// How long to hold them once all are up (or the attempts are over).
    pub hold: Duration,
    /// Give up on a connection attempt (TCP connect, CONNECT, CONNACK) after this long.
    pub connect_timeout: Duration,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
    /// Local addresses to connect from, round-robin by session index; empty: the OS
    /// chooses. All must be of the broker address's family.
    pub source_ips: Vec<IpAddr>,
    /// Which slice of the clients this process opens.
    pub shard: Shard,
    /// MQTT keep-alive sent in CONNECT (whole seconds, at most 65535; 0 = none); the
    /// session pings every half of it.
    pub keep_alive: Duration,
    /// TLS and credentials.
    pub security: crate::transport::endpoint::Security,
    /// MQTT 3.1.1 or 5.
    pub protocol: super::Protocol,
}

impl Default for ConnSpec {
    fn default() -> Self {
        ConnSpec {
            clients: 100,
            ramp_per_s: 500.0,
            hold: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            broker: None,
            source_ips: Vec::new(),
            shard: Shard::default(),
            keep_alive: Duration::from_secs(60),
            security: Default::default(),
            protocol: super::Protocol::V311,
        }
    }
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
    /// `"i/N"` for one shard; absent for a whole run or a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// How many reports were merged into this one (1 for a single run).
    #[serde(default = "super::one")]
    pub merged: u64,
    /// Sessions this report covers (this shard's slice).
    pub clients: u64,
    /// Sessions that got a CONNACK with return code 0.
    pub connected: u64,
    /// Sessions that did not (refused, timed out, I/O error); `refused` is part of it.
    pub failed: u64,
    /// Of `failed`, those the broker answered with a non-zero CONNACK return code.
    #[serde(default)]
    pub refused: u64,
    /// `refused` by CONNACK return code (5 = not authorized, ...).
    #[serde(default)]
    pub refused_codes: BTreeMap<u8, u64>,
    /// Sessions still up at the end of the hold.
    pub held: u64,
    /// TCP connect + CONNECT → CONNACK latency.
    pub connect_ms: Option<Latency>,
    /// Seconds from the first attempt to the last CONNACK.
    pub ramp_seconds: f64,
    /// This process's resident memory at the end of the hold, KiB (summed over merged
    /// reports). Absent where `/proc/self/status` is not readable.
    #[serde(default)]
    pub rss_kib: Option<u64>,
    /// Resident memory each held session cost this process: (RSS at the end of the hold −
    /// RSS before the first connection) / held, KiB. With the embedded broker this
    /// includes the broker's side of each session. Merged: the mean weighted by `held`.
    #[serde(default)]
    pub rss_per_session_kib: Option<f64>,
    /// The histograms behind the percentiles (`"connect"`: µs, HdrHistogram V2 deflate,
    /// base64), so `twin report merge` adds shards exactly.
    #[serde(default)]
    pub histograms: BTreeMap<String, String>,
}

/// Running totals a caller can sample while the run goes on.
#[derive(Debug, Default)]
pub struct ConnCounters {
    /// Sessions that got CONNACK 0.
    pub connected: AtomicU64,
    /// Attempts that did not (refusals included).
    pub failed: AtomicU64,
    /// Of those, refused by a non-zero CONNACK.
    pub refused: AtomicU64,
    /// Sessions up now (connected, not dropped, not yet released).
    pub up: AtomicU64,
}

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
    tls: Option<idle::Tls>,
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
    let ep =
        crate::transport::endpoint::Endpoint::new(&url, &spec.security).map_err(RunError::from)?;
    let tls = match ep.tls_config() {
        Some(config) => Some(idle::Tls {
            config,
            server_name: rustls::pki_types::ServerName::try_from(ep.host.clone())
                .map_err(|e| RunError::BadInput(format!("broker host {}: {e}", ep.host)))?,
        }),
        None => None,
    };
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
        let packet = idle::connect_packet(
            &format!("twin-conn-{tag}-{i}"),
            keep_alive_s,
            spec.protocol == super::Protocol::V5,
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
        idle::open(broker, source, packet, shared.tls.as_ref(), true),
    )
    .await;
    let c = &shared.counters;
    let mut stream = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(IdleError::Refused { code })) => {
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
            let _ = tokio::time::timeout(Duration::from_secs(2), idle::close(stream)).await;
        }
        Err(e) => {
            tracing::debug!("load conn session to {broker} dropped: {e}");
            c.up.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The broker's address, of the source addresses' family when they are given.
pub(crate) async fn resolve(
    host: &str,
    port: u16,
    sources: &[IpAddr],
) -> Result<SocketAddr, RunError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| RunError::BadInput(format!("broker host \"{host}\" does not resolve: {e}")))?
        .collect();
    let v4 = sources.first().map(IpAddr::is_ipv4);
    addrs
        .iter()
        .find(|a| v4.is_none_or(|v4| a.is_ipv4() == v4))
        .copied()
        .ok_or_else(|| {
            RunError::BadInput(format!(
                "broker host \"{host}\" has no {} address for the source IPs {sources:?}",
                if v4 == Some(false) { "IPv6" } else { "IPv4" }
            ))
        })
}

/// Every source address is of one family and can be bound here, so a typo fails once,
/// up front, not as N failed sessions.
fn check_sources(sources: &[IpAddr]) -> Result<(), RunError> {
    if let Some(first) = sources.first()
        && sources.iter().any(|s| s.is_ipv4() != first.is_ipv4())
    {
        return Err(RunError::BadInput(format!(
            "source IPs {sources:?} mix IPv4 and IPv6; give addresses of one family"
        )));
    }
    for &ip in sources {
        let socket = if ip.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }?;
        socket.bind(SocketAddr::new(ip, 0)).map_err(|e| {
            RunError::BadInput(format!(
                "source IP {ip} cannot be bound ({e}): is it an address of this host?"
            ))
        })?;
    }
    Ok(())
}

/// Add shard reports of one `twin load conn` into one: counts add, the connect
/// histograms add (so the percentiles are those of one run over all sessions), the ramp
/// is the longest shard's.
pub fn merge_conn(reports: &[ConnReport]) -> Result<ConnReport, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    let mut out = first.clone();
    out.shard = None;
    out.merged = 0;
    (
        out.clients,
        out.connected,
        out.failed,
        out.refused,
        out.held,
    ) = (0, 0, 0, 0, 0);
    out.refused_codes.clear();
    out.ramp_seconds = 0.0;
    let mut rss_kib = Some(0u64);
    let mut rss_weighted = Some(0.0f64);
    let mut shards = std::collections::BTreeSet::new();
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (n, r) in reports.iter().enumerate() {
        if r.command != "load conn" {
            return Err(format!(
                "report {} is a `{}` report, not a `load conn` one",
                n + 1,
                r.command
            ));
        }
        if let Some(s) = &r.shard
            && !shards.insert(s.clone())
        {
            return Err(format!("shard {s} appears twice"));
        }
        if r.connected > 0 && !r.histograms.contains_key("connect") {
            return Err(format!(
                "report {} has no connect histogram, so its percentiles cannot be merged",
                n + 1
            ));
        }
        out.merged += r.merged;
        out.clients += r.clients;
        out.connected += r.connected;
        out.failed += r.failed;
        out.refused += r.refused;
        out.held += r.held;
        for (code, k) in &r.refused_codes {
            *out.refused_codes.entry(*code).or_default() += k;
        }
        out.ramp_seconds = out.ramp_seconds.max(r.ramp_seconds);
        rss_kib = rss_kib.zip(r.rss_kib).map(|(a, b)| a + b);
        rss_weighted = match r.rss_per_session_kib {
            Some(p) => rss_weighted.map(|w| w + p * r.held as f64),
            None if r.held == 0 => rss_weighted,
            None => None,
        };
        add_histograms(&mut hists, &r.histograms)?;
    }
    out.connect_ms = hists.get("connect").and_then(Latency::of);
    out.rss_kib = rss_kib;
    out.rss_per_session_kib = rss_weighted
        .filter(|_| out.held > 0)
        .map(|w| round4(w / out.held as f64));
    out.histograms = hists
        .iter()
        .map(|(k, h)| (k.clone(), histogram_to_base64(h)))
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(shard: &str, connected: u64, held: u64, micros: &[u64]) -> ConnReport {
        let mut h = latency_histogram();
        for &us in micros {
            h.record(us).unwrap();
        }
        ConnReport {
            tool: "twin".into(),
            version: "0".into(),
            command: "load conn".into(),
            broker: crate::report::BrokerInfo {
                url: "mqtt://127.0.0.1:1883".into(),
                embedded: false,
            },
            shard: Some(shard.into()),
            merged: 1,
            clients: connected + 1,
            connected,
            failed: 1,
            refused: 1,
            refused_codes: BTreeMap::from([(5, 1)]),
            held,
            connect_ms: Latency::of(&h),
            ramp_seconds: connected as f64,
            rss_kib: Some(10_000),
            rss_per_session_kib: Some(if held > 0 {
                2.0 * connected as f64
            } else {
                0.0
            }),
            histograms: BTreeMap::from([("connect".into(), histogram_to_base64(&h))]),
        }
    }

    #[test]
    fn conn_shards_merge_to_their_totals() {
        let a = report("0/2", 3, 3, &[1_000, 2_000, 3_000]);
        let b = report("1/2", 2, 1, &[50_000, 60_000]);
        let m = merge_conn(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.merged, 2);
        assert_eq!(m.shard, None);
        assert_eq!(
            (m.clients, m.connected, m.failed, m.refused, m.held),
            (7, 5, 2, 2, 4)
        );
        assert_eq!(m.refused_codes, BTreeMap::from([(5, 2)]));
        assert_eq!(m.ramp_seconds, 3.0);
        let l = m.connect_ms.unwrap();
        assert_eq!(l.count, 5);
        assert_eq!(l.max, b.connect_ms.unwrap().max);
        assert_eq!(l.p50, a.connect_ms.unwrap().max);
        assert_eq!(m.rss_kib, Some(20_000));
        // (6 KiB × 3 held + 4 KiB × 1 held) / 4 held.
        assert_eq!(m.rss_per_session_kib, Some(5.5));
        // A merged report merges again, and the same shard twice or a mix is refused.
        let again = merge_conn(std::slice::from_ref(&m)).unwrap();
        assert_eq!((again.merged, again.connected), (2, 5));
        assert!(merge_conn(&[a.clone(), a.clone()]).is_err());
        let mut other = b;
        other.command = "load pub".into();
        assert!(merge_conn(&[a, other]).is_err());
        assert!(merge_conn(&[]).is_err());
    }

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

    #[test]
    fn rss_is_read() {
        assert!(process_rss_kib().expect("/proc/self/status") > 0);
    }
}
