//! Attach to a fleet that is already running (this process did not start it): a
//! read-only ingest that discovers devices as their telemetry arrives and publishes
//! snapshots for the terminal UI. It follows the wire contract's layout
//! `{prefix}/{fleet}/{device}/telemetry` and `…/status`, for every fleet under `prefix`.

use crate::analytics::fleet::{FleetAnalytics, FleetConfig};
use crate::error::RunError;
use crate::ingest::{self, Ingest, IngestCounters, IngestState, Topics};
use crate::run::progress::Phase;
use crate::snapshot::{DeviceRow, FleetSnapshot, last_readings, open_alerts, p50_p99_ms};
use crate::transport::dispatch::SendLog;
use crate::transport::shutdown;
use rumqttc::QoS;
use scenarios::Encoding;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// The topic templates an attach subscribes to, from a filter such as `twin/#`.
pub fn topics_for(filter: &str) -> Topics {
    let prefix = filter.trim_end_matches('#').trim_end_matches('/');
    let prefix = if prefix.is_empty() { "twin" } else { prefix };
    Topics {
        telemetry: format!("{prefix}/+/{{device}}/telemetry"),
        status: format!("{prefix}/+/{{device}}/status"),
    }
}

/// Watch a running fleet until `stop`; snapshots go to `snapshots` four times a second.
pub async fn attach(
    url: &str,
    filter: &str,
    encoding: Encoding,
    snapshots: watch::Sender<Arc<FleetSnapshot>>,
    stop: Arc<AtomicBool>,
) -> Result<(), RunError> {
    let endpoint = crate::transport::endpoint::Endpoint::new(
        url,
        &crate::transport::endpoint::Security::default(),
    )?;
    // Shown in snapshots and errors: without the URL's password.
    let url = &scenarios::BrokerUrl::redact(url);
    let analytics = FleetAnalytics::new(FleetConfig::default(), Vec::new(), &[], &[]);
    let state = Arc::new(Mutex::new(IngestState::new(&[], analytics, 0.0)));
    let counters = Arc::new(IngestCounters::default());
    let ingest = Ingest {
        state: state.clone(),
        counters: counters.clone(),
        send_log: Arc::new(SendLog::default()),
        encoding,
        topics: topics_for(filter),
        attach: true,
    };
    let (ingest_stop, task) = start_ingest(url, ingest, endpoint).await?;
    let mut recv_rate = Vec::new();
    let mut last_total = 0;
    let mut ticks = 0u32;
    // `stop` is the caller's plain flag: look at it with every snapshot.
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        ticks += 1;
        let total = counters.unique.load(Ordering::Relaxed);
        if ticks.is_multiple_of(4) {
            recv_rate.push(total - last_total);
            if recv_rate.len() > 120 {
                recv_rate.remove(0);
            }
            last_total = total;
        }
        if let Ok(st) = state.lock() {
            let snap = attached_snapshot(url, &st, &recv_rate);
            drop(st);
            snapshots.send_replace(Arc::new(snap));
        }
    }
    ingest_stop.fire();
    let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    Ok(())
}

/// Start the read-only ingest and wait (at most 10 s) for its subscriptions.
async fn start_ingest(
    url: &str,
    ingest: Ingest,
    endpoint: crate::transport::endpoint::Endpoint,
) -> Result<(shutdown::Trigger, tokio::task::JoinHandle<()>), RunError> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let (stop, shutdown) = shutdown::signal();
    let task = tokio::spawn(ingest::run(
        ingest,
        endpoint,
        QoS::AtLeastOnce,
        ready_tx,
        shutdown,
    ));
    if tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .is_err()
    {
        stop.fire();
        return Err(RunError::Unreachable {
            url: url.to_string(),
            why: "timed out: no MQTT connection and subscription within 10 s".into(),
        });
    }
    Ok((stop, task))
}

/// A snapshot of an attached fleet: devices in the order they appeared.
pub fn attached_snapshot(url: &str, st: &IngestState, recv_rate: &[u64]) -> FleetSnapshot {
    let alerts = st.analytics.alerts();
    let open = open_alerts(&alerts, st.attached.len());
    let now = st.analytics.now().unwrap_or(0.0);
    let devices: Vec<DeviceRow> = st
        .attached
        .iter()
        .enumerate()
        .map(|(i, (id, model))| {
            let t = &st.devices[i];
            DeviceRow {
                index: i,
                id: id.clone(),
                environment: String::new(),
                received: t.seq.received,
                last_seen: t.last_ts,
                readings: last_readings(t, model),
                open_alerts: open[i],
                online: t.online,
                actuator: model.is_actuator(),
                kind: model.clone(),
            }
        })
        .collect();
    let (latency_p50_ms, latency_p99_ms) = p50_p99_ms(&st.latency_us);
    FleetSnapshot {
        scenario: "attached".into(),
        broker: url.to_string(),
        embedded: false,
        phase: Phase::Running,
        sim_now: now,
        sim_duration: now,
        speed: "live".into(),
        devices_total: devices.len() as u64,
        online: devices.iter().filter(|d| d.online == Some(true)).count() as u64,
        seen: devices.iter().filter(|d| d.received > 0).count() as u64,
        alerting: open.iter().filter(|&&o| o > 0).count() as u64,
        sent: 0,
        received: devices.iter().map(|d| d.received).sum(),
        in_flight_or_lost: devices.iter().zip(&st.devices).map(|(_, t)| t.gaps()).sum(),
        dropped_at_source: 0,
        malformed: st.rejected.malformed() + st.rejected.foreign(),
        latency_p50_ms,
        latency_p99_ms,
        recv_rate: recv_rate.to_vec(),
        devices,
        alerts,
        detail: None,
    }
}
