//! The dispatcher: drains the sim's outbox, encodes each message and hands it to its
//! device's session without awaiting (a full client queue is counted, never waited on).
//! With a flow window it holds the next message while the window's limit is already on
//! the wire: one step of a large fleet can hand the outbox many more messages than the
//! window, and the broker must never hold more of them at once than the window says.

use crate::wire::{Encoding, Payload, Telemetry, unix_us};
use rumqttc::{AsyncClient, ClientError, QoS};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

pub use super::send_log::{SendLog, SendRecord};

/// What the dispatcher did, per device by fleet index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DispatchStats {
    /// Accepted by the MQTT client.
    pub sent: Vec<u64>,
    /// Refused because the client's request queue was full (counted as dropped at source).
    pub dropped: Vec<u64>,
    /// Could not be encoded.
    pub encode_errors: u64,
    /// Extra copies published by duplicate faults.
    pub duplicated: u64,
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
        duplicated: 0,
    };
    let mut buf = Vec::with_capacity(256);
    // A message held back by a reorder fault, sent after the device's next one.
    let mut held: HashMap<usize, (u64, Vec<u8>)> = HashMap::new();
    while let Some(t) = outbox.recv().await {
        wait_for_room(&log, &outbox, held.len()).await;
        let d = t.device as usize;
        let now = unix_us();
        let payload = Payload {
            device_id: &route.ids[d],
            seq: t.seq,
            timestamp: ((route.start_epoch + t.sim_time + t.skew) * 1000.0).round() / 1000.0,
            sent_us: route.sent_us.then_some(now),
            readings: &t.readings,
        };
        if let Err(e) = payload.encode_into(route.encoding, &mut buf) {
            stats.encode_errors += 1;
            log.refused(t.device);
            taken(&log);
            tracing::warn!(device = %route.ids[d], error = %e, "telemetry not encoded");
            continue;
        }
        log.record(
            t.device,
            t.seq,
            SendRecord {
                sent_us: now,
                expected: t.expected,
                sim_ms: (t.sim_time * 1000.0) as u64,
            },
        );
        taken(&log);
        if t.hold {
            held.insert(d, (t.seq, buf.clone()));
            continue;
        }
        let sent = send(&route, d, t.seq, buf.clone(), &mut stats, &counters, &log);
        if t.duplicate && sent {
            // The second copy is the fault: `sent` counts distinct messages.
            let _ = route.clients[d].try_publish(&route.topics[d], route.qos, false, buf.clone());
            stats.duplicated += 1;
        }
        if let Some((seq, bytes)) = held.remove(&d) {
            send(&route, d, seq, bytes, &mut stats, &counters, &log);
        }
    }
    for (d, (seq, bytes)) in held {
        send(&route, d, seq, bytes, &mut stats, &counters, &log);
    }
    stats
}

/// The message is out of the outbox and in the send log: the window's lead now reads
/// its sim time from there.
fn taken(log: &SendLog) {
    if let Some(w) = log.window() {
        w.taken();
    }
}

/// Wait while the window's limit of messages is on the wire: those in flight, less the
/// ones still in the outbox, held back by a reorder fault, or in hand (this one). Once
/// the sim has ended (its end of the outbox is closed) nothing waits any more: the run
/// stops writing off what does not come back then, so a dead broker would hold the rest
/// of the outbox, and the run's end, for ever. What is left goes out at once, as it did
/// before the window was waited on, and the drain counts it.
async fn wait_for_room(log: &SendLog, outbox: &mpsc::Receiver<Telemetry>, held: usize) {
    let Some(w) = log.window() else { return };
    while !outbox.is_closed() {
        let unsent = (outbox.len() + held + 1) as u64;
        if w.in_flight().saturating_sub(unsent) < w.limit() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_micros(200)).await;
    }
}

/// Hand one encoded message to its device's client; a full queue is counted, not awaited.
fn send(
    route: &Route,
    d: usize,
    seq: u64,
    bytes: Vec<u8>,
    stats: &mut DispatchStats,
    counters: &DispatchCounters,
    log: &SendLog,
) -> bool {
    match route.clients[d].try_publish(&route.topics[d], route.qos, false, bytes) {
        Ok(()) => {
            stats.sent[d] += 1;
            counters
                .sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            true
        }
        Err(ClientError::TryRequest(_) | ClientError::Request(_)) => {
            stats.dropped[d] += 1;
            log.forget(d as u32, seq);
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Window;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// A step that hands the outbox far more than the window: the dispatcher puts no
    /// more than the window on the wire, and more as messages come back.
    #[tokio::test]
    async fn a_burst_goes_on_the_wire_no_faster_than_the_window() {
        let window = Arc::new(Window::new(1, 10, 1000));
        let log = Arc::new(SendLog::with_window(window.clone()));
        // A client nobody polls: every accepted publish waits in its queue, "on the wire".
        let o = rumqttc::MqttOptions::new("gate", "127.0.0.1", 9);
        let (client, _eventloop) = AsyncClient::new(o, 1000);
        let route = Route {
            clients: vec![client],
            topics: vec!["t/d/telemetry".into()],
            ids: vec!["d".into()],
            qos: QoS::AtLeastOnce,
            encoding: Encoding::Json,
            sent_us: false,
            start_epoch: 0.0,
        };
        let (tx, rx) = mpsc::channel(1000);
        for seq in 0..100 {
            window.handed(0);
            let t = Telemetry {
                device: 0,
                seq,
                sim_time: seq as f64,
                readings: Vec::new(),
                expected: Vec::new(),
                skew: 0.0,
                duplicate: false,
                hold: false,
            };
            tx.try_send(t).expect("room in the outbox");
        }
        let counters = Arc::new(DispatchCounters::default());
        let task = tokio::spawn(run(route, rx, log.clone(), counters.clone()));
        let sent = || counters.sent.load(Ordering::Relaxed);
        let settle = || tokio::time::sleep(Duration::from_millis(50));
        settle().await;
        assert_eq!(sent(), 10, "the window's ten, no more");
        for seq in 0..4 {
            assert!(log.take(0, seq).is_some(), "message {seq} was recorded");
        }
        settle().await;
        assert_eq!(sent(), 14, "four came back, four more went");
        drop(tx);
        for seq in 4..100 {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            while log.take(0, seq).is_none() {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "message {seq} never went"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let stats = tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the dispatcher ends with its outbox")
            .expect("no panic");
        assert_eq!(stats.sent, vec![100]);
    }
}
