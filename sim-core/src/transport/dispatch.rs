//! The dispatcher: drains the sim's outbox, encodes each message and hands it to its
//! device's session without awaiting (a full client queue is counted, never waited on).

use crate::flow::Window;
use crate::wire::{Encoding, Payload, Telemetry, unix_us};
use rumqttc::{AsyncClient, ClientError, QoS};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What the sender knows of a message that the wire does not carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendRecord {
    /// Wall-clock Unix microseconds at send.
    pub sent_us: u64,
    /// The twin's noise-free values of the analysed readings.
    pub expected: Vec<(&'static str, f64)>,
    /// Sim milliseconds of the message.
    pub sim_ms: u64,
}

/// Send records by (device, seq): the channel by which the sim's expectations and send
/// times reach ingest beside the wire. With a flow window, a record is a message in
/// flight: taking it (ingest saw the message), forgetting it (the dispatcher could not
/// send it) or writing it off (presumed lost) retires it from the window.
#[derive(Debug, Default)]
pub struct SendLog {
    records: Mutex<Records>,
    window: Option<Arc<Window>>,
}

#[derive(Debug, Default)]
struct Records {
    by_key: HashMap<(u32, u64), SendRecord>,
    /// (sent_us, device, seq) in send order, for [`SendLog::write_off`].
    order: VecDeque<(u64, u32, u64)>,
    /// The latest send time of a message ingest has seen.
    frontier_us: u64,
    /// Per device, by fleet index: every `seq` below it is resolved (seen or written
    /// off).
    resolved: Vec<u64>,
    /// Messages in flight by sim millisecond (with a window only).
    by_time: BTreeMap<u64, u32>,
}

impl Records {
    /// `seq` of `device` came back: write off what it overtook.
    fn overtaken(&mut self, window: &Window, device: u32, seq: u64) {
        let d = device as usize;
        if self.resolved.len() <= d {
            self.resolved.resize(d + 1, 0);
        }
        let upto = seq.saturating_sub(1);
        for q in self.resolved[d]..upto {
            if let Some(r) = self.by_key.remove(&(device, q)) {
                self.untime(r.sim_ms);
                window.write_off(device);
            }
        }
        self.resolved[d] = self.resolved[d].max(upto);
    }

    /// A record of sim time `ms` left the log.
    fn untime(&mut self, ms: u64) {
        if let Some(n) = self.by_time.get_mut(&ms) {
            *n -= 1;
            if *n == 0 {
                self.by_time.remove(&ms);
            }
        }
    }

    /// Tell the window the sim time of the oldest message in flight.
    fn publish_oldest(&self, window: &Window) {
        window.set_oldest_ms(self.by_time.keys().next().copied().unwrap_or(u64::MAX));
    }

    /// Remove (device, seq), keeping the time index.
    fn remove(&mut self, key: (u32, u64)) -> Option<SendRecord> {
        let r = self.by_key.remove(&key)?;
        self.untime(r.sim_ms);
        Some(r)
    }
}

impl SendLog {
    /// A log that retires its messages from `window`.
    pub fn with_window(window: Arc<Window>) -> SendLog {
        SendLog {
            records: Mutex::default(),
            window: Some(window),
        }
    }

    /// The flow window, if the run has one.
    pub fn window(&self) -> Option<&Arc<Window>> {
        self.window.as_ref()
    }

    /// Remember (device, seq).
    pub fn record(&self, device: u32, seq: u64, record: SendRecord) {
        if let Ok(mut m) = self.records.lock() {
            if let Some(w) = &self.window {
                m.order.push_back((record.sent_us, device, seq));
                *m.by_time.entry(record.sim_ms).or_default() += 1;
                m.publish_oldest(w);
            }
            m.by_key.insert((device, seq), record);
        }
    }

    /// Take the record of (device, seq): ingest saw the message. The device's messages
    /// more than one `seq` before it that are still in flight are written off: a broker
    /// keeps a session's order, and a reorder fault sends a message after the next one
    /// only.
    pub fn take(&self, device: u32, seq: u64) -> Option<SendRecord> {
        let mut m = self.records.lock().ok()?;
        let r = m.remove((device, seq))?;
        m.frontier_us = m.frontier_us.max(r.sent_us);
        if let Some(w) = &self.window {
            m.overtaken(w, device, seq);
            m.publish_oldest(w);
        }
        drop(m);
        self.retire(device);
        Some(r)
    }

    /// Drop the record of (device, seq): the message never left.
    pub fn forget(&self, device: u32, seq: u64) {
        let Ok(mut m) = self.records.lock() else {
            return;
        };
        let gone = m.remove((device, seq));
        if let Some(w) = &self.window {
            m.publish_oldest(w);
        }
        drop(m);
        if gone.is_some() {
            self.retire(device);
        }
    }

    /// A message of `device` that was never recorded left the pipeline (it could not be
    /// encoded).
    pub fn refused(&self, device: u32) {
        self.retire(device);
    }

    fn retire(&self, device: u32) {
        if let Some(w) = &self.window {
            w.retire(device);
        }
    }

    /// Write off, as lost, the messages still in flight that were sent more than
    /// `grace_us` before the latest one ingest has seen (messages sent after them have
    /// come back; they will not), or, when `before_us` is given, every one sent before
    /// it. Their records go (a late arrival is still counted, by its `seq`, without
    /// a send time unless its payload carries `sent_us`). Returns how many were written
    /// off.
    pub fn write_off(&self, grace_us: u64, before_us: Option<u64>) -> u64 {
        let (Some(w), Ok(mut m)) = (&self.window, self.records.lock()) else {
            return 0;
        };
        let cutoff = before_us.unwrap_or(m.frontier_us.saturating_sub(grace_us));
        let mut n = 0;
        while let Some(&(sent, device, seq)) = m.order.front() {
            if sent >= cutoff {
                break;
            }
            m.order.pop_front();
            if m.remove((device, seq)).is_some() {
                w.write_off(device);
                n += 1;
            }
        }
        m.publish_oldest(w);
        n
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
