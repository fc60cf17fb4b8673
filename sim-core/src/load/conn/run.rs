//! Running `twin load conn`: open the sessions at the ramp rate, let the attempts
//! settle, hold, close them, report.

use crate::load::codec::connect::connect_packet;
use crate::load::conn::session::{Shared, session};
use crate::load::conn::spec::{ConnCounters, ConnSpec};
use crate::load::dial::{Target, bad_input, check_sources};
use crate::load::process::process_rss_kib;
use crate::load::report::ConnReport;
use crate::load::shard::run_tag;
use crate::measure::{Latency, histogram_to_base64, round4};
use crate::run::RunError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    let sessions = spec.shard.range(spec.clients).len();
    let keep_alive_s = u16::try_from(spec.keep_alive.as_secs()).map_err(|_| {
        RunError::BadInput(format!(
            "keep-alive {:?} is over the MQTT maximum of 65535 s",
            spec.keep_alive
        ))
    })?;
    let target = Target::open(
        spec.broker.as_deref(),
        &spec.security,
        sessions,
        &spec.source_ips,
    )
    .await?;
    check_sources(&spec.source_ips)?;
    crate::run::check_file_limit(sessions, target.embedded)?;
    let shared = Arc::new(Shared::new(counters, target.tls.clone()));
    let (release_tx, release_rx) = watch::channel(false);
    let rss_before = process_rss_kib();
    let tasks = open_all(spec, &target, keep_alive_s, &shared, release_rx, &stop).await?;
    // Wait for every attempt to settle (each is bounded by the connect timeout), then hold.
    settle(&shared, tasks.len() as u64, spec.connect_timeout, &stop).await;
    hold(spec.hold, &stop).await;
    let held = shared.counters.up.load(Ordering::Acquire);
    let rss_at_hold = process_rss_kib();
    let _ = release_tx.send(true);
    close_all(tasks).await;
    let mut r = report(spec, &target, &shared, held, (rss_before, rss_at_hold))?;
    r.interrupted = stop.load(Ordering::Relaxed);
    Ok(r)
}

/// Start the sessions, one every `1 / ramp_per_s`, until all are or `stop`.
async fn open_all(
    spec: &ConnSpec,
    target: &Target,
    keep_alive_s: u16,
    shared: &Arc<Shared>,
    release: watch::Receiver<bool>,
    stop: &AtomicBool,
) -> Result<Vec<JoinHandle<()>>, RunError> {
    let tag = run_tag();
    let gap = Duration::from_secs_f64(1.0 / spec.ramp_per_s.max(0.001));
    let sessions = spec.shard.range(spec.clients);
    let mut tasks = Vec::with_capacity(sessions.len());
    let start = tokio::time::Instant::now();
    for (k, i) in sessions.enumerate() {
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
            target.ep.credentials(),
            None,
        )
        .map_err(bad_input)?;
        tasks.push(tokio::spawn(session(
            target.addr,
            source,
            packet,
            keep_alive_s,
            spec.connect_timeout,
            shared.clone(),
            release.clone(),
        )));
    }
    Ok(tasks)
}

/// Wait until `spawned` attempts are over (connected or failed), or the connect
/// timeout (and a second) has passed, or `stop`.
async fn settle(shared: &Shared, spawned: u64, timeout: Duration, stop: &AtomicBool) {
    let settle_by = Instant::now() + timeout + Duration::from_secs(1);
    while shared.settled.load(Ordering::Acquire) < spawned
        && Instant::now() < settle_by
        && !stop.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Hold for `hold`, or until `stop`.
async fn hold(hold: Duration, stop: &AtomicBool) {
    let hold_end = Instant::now() + hold;
    while !stop.load(Ordering::Relaxed) {
        let left = hold_end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        tokio::time::sleep(left.min(Duration::from_millis(100))).await;
    }
}

/// Wait (10 s at most) for the released sessions to close.
async fn close_all(tasks: Vec<JoinHandle<()>>) {
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
}

/// The report, from the shared counts and the RSS before the first connection and at
/// the end of the hold.
fn report(
    spec: &ConnSpec,
    target: &Target,
    shared: &Shared,
    held: u64,
    (rss_before, rss_at_hold): (Option<u64>, Option<u64>),
) -> Result<ConnReport, RunError> {
    let hist = shared.hist.lock().map_err(poisoned)?.clone();
    let refused_codes = shared.refused_codes.lock().map_err(poisoned)?.clone();
    let rss_per_session_kib = match (rss_before, rss_at_hold) {
        (Some(a), Some(b)) if held > 0 => Some(round4(b.saturating_sub(a) as f64 / held as f64)),
        _ => None,
    };
    let c = &shared.counters;
    Ok(ConnReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load conn".into(),
        broker: target.info(),
        shard: spec.shard.label(),
        merged: 1,
        clients: spec.shard.range(spec.clients).len() as u64,
        connected: c.connected.load(Ordering::Relaxed),
        failed: c.failed.load(Ordering::Relaxed),
        refused: c.refused.load(Ordering::Relaxed),
        refused_codes,
        held,
        dropped: shared.dropped.load(Ordering::Relaxed),
        keep_alive_s: match shared.keep_alive_s.load(Ordering::Relaxed) {
            0 => spec.keep_alive.as_secs(),
            k => k,
        },
        connect_ms: Latency::of(&hist),
        ramp_seconds: round4(shared.last_connack_us.load(Ordering::Relaxed) as f64 / 1e6),
        rss_kib: rss_at_hold,
        rss_per_session_kib,
        histograms: BTreeMap::from([("connect".to_string(), histogram_to_base64(&hist))]),
        broker_limits: shared
            .limits
            .lock()
            .map_err(poisoned)?
            .clone()
            .unwrap_or_default(),
        broker_reasons: shared.observed.reasons(),
        first_failure: shared.first_failure_words(),
        interrupted: false,
        fail_on: Vec::new(),
    })
}

fn poisoned<T>(_: T) -> std::io::Error {
    std::io::Error::other("load conn state poisoned")
}
