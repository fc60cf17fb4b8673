//! The dispatcher: drains the sim's outbox, encodes each message and hands it to its
//! device's session without awaiting (a full client queue is counted, never waited on).

use crate::wire::{Encoding, Payload, Telemetry, unix_us};
use rumqttc::{AsyncClient, ClientError, QoS};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Wall-clock send times by (device, seq), for latency when payloads do not carry them.
#[derive(Debug, Default)]
pub struct SendLog {
    sent_at: Mutex<HashMap<(u32, u64), u64>>,
}

impl SendLog {
    /// Remember when (device, seq) was sent.
    pub fn record(&self, device: u32, seq: u64, us: u64) {
        if let Ok(mut m) = self.sent_at.lock() {
            m.insert((device, seq), us);
        }
    }

    /// When (device, seq) was sent, forgetting it.
    pub fn take(&self, device: u32, seq: u64) -> Option<u64> {
        self.sent_at.lock().ok()?.remove(&(device, seq))
    }
}

/// What the dispatcher did, per device by fleet index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchStats {
    /// Accepted by the MQTT client.
    pub sent: Vec<u64>,
    /// Refused because the client's request queue was full (counted as dropped at source).
    pub dropped: Vec<u64>,
    /// Could not be encoded.
    pub encode_errors: u64,
}

/// Everything the dispatcher needs about the fleet.
pub struct Route {
    /// Client per device.
    pub clients: Vec<AsyncClient>,
    /// Telemetry topic per device.
    pub topics: Vec<String>,
    /// Device ids.
    pub ids: Vec<String>,
    /// QoS of telemetry.
    pub qos: QoS,
    /// Payload encoding.
    pub encoding: Encoding,
    /// Put `sent_us` in payloads.
    pub sent_us: bool,
    /// Unix seconds at sim time 0.
    pub start_epoch: f64,
}

/// Running totals the run can read while the dispatcher works.
#[derive(Debug, Default)]
pub struct DispatchCounters {
    /// Messages accepted by clients so far.
    pub sent: std::sync::atomic::AtomicU64,
}

/// Drain `outbox` until the sim drops its end.
pub async fn run(
    route: Route,
    mut outbox: mpsc::Receiver<Telemetry>,
    log: Arc<SendLog>,
    counters: Arc<DispatchCounters>,
) -> DispatchStats {
    let n = route.clients.len();
    let mut stats = DispatchStats {
        sent: vec![0; n],
        dropped: vec![0; n],
        encode_errors: 0,
    };
    let mut buf = Vec::with_capacity(256);
    while let Some(t) = outbox.recv().await {
        let d = t.device as usize;
        let now = unix_us();
        let payload = Payload {
            device_id: &route.ids[d],
            seq: t.seq,
            timestamp: ((route.start_epoch + t.sim_time) * 1000.0).round() / 1000.0,
            sent_us: route.sent_us.then_some(now),
            readings: &t.readings,
        };
        if let Err(e) = payload.encode_into(route.encoding, &mut buf) {
            stats.encode_errors += 1;
            tracing::warn!(device = %route.ids[d], error = %e, "telemetry not encoded");
            continue;
        }
        if !route.sent_us {
            log.record(t.device, t.seq, now);
        }
        match route.clients[d].try_publish(&route.topics[d], route.qos, false, buf.clone()) {
            Ok(()) => {
                stats.sent[d] += 1;
                counters
                    .sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Err(ClientError::TryRequest(_) | ClientError::Request(_)) => {
                stats.dropped[d] += 1;
                log.take(t.device, t.seq);
            }
        }
    }
    stats
}
