//! `twin load conn`: open sessions at a ramp rate, hold them, report connect latency.

use crate::report::{Latency, round4};
use crate::run::RunError;
use crate::transport::broker::EmbeddedBroker;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
