//! Ingest: a subscriber on the fleet's telemetry and status topics that counts, per device,
//! what came back over MQTT (received, duplicates, reordering by `seq`), measures
//! end-to-end latency, and keeps per-sensor min/mean/max.

use crate::analytics::fleet::FleetAnalytics;
use crate::measure::{SeqEvent, SeqTally};
use crate::transport::dispatch::SendLog;
use crate::wire::{Decoded, Encoding, unix_us};
use hdrhistogram::Histogram;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, oneshot};

/// Running min/mean/max of one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Samples.
    pub count: u64,
    /// Sum of samples.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// The latest sample.
    pub last: f64,
}

impl Stat {
    fn new(v: f64) -> Stat {
        Stat {
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.last = v;
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Mean of the samples.
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// What ingest saw of one device: its `seq` accounting (a [`SeqTally`]) and what its
/// messages said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceTally {
    /// Received, duplicates, reordering, highest `seq`.
    pub seq: SeqTally,
    /// Per-reading statistics, in first-seen order.
    pub readings: Vec<(String, Stat)>,
    /// Last status message: `Some(true)` online, `Some(false)` offline.
    pub online: Option<bool>,
    /// Sim time (payload timestamp) of the latest message.
    pub last_ts: Option<f64>,
    /// Attach mode: the first `seq` seen (earlier ones were sent before attaching).
    pub first_seq: Option<u64>,
}

impl DeviceTally {
    /// Count one message; says what its `seq` showed. A duplicate's readings are not
    /// counted again.
    pub fn record(&mut self, seq: u64, readings: &[(String, f64)]) -> SeqEvent {
        let ev = self.seq.record(seq);
        if ev.duplicate {
            return ev;
        }
        for (name, v) in readings {
            let v = *v;
            match self.readings.iter_mut().find(|(n, _)| n == name) {
                Some((_, s)) => s.add(v),
                None => self.readings.push((name.clone(), Stat::new(v))),
            }
        }
        ev
    }

    /// Sequence numbers below the highest seen (and from the first seen, when attached)
    /// that never arrived.
    pub fn gaps(&self) -> u64 {
        self.seq.gaps_from(self.first_seq.unwrap_or(0))
    }
}

/// Everything ingest has counted.
#[derive(Debug)]
pub struct IngestState {
    /// Per device, by fleet index.
    pub devices: Vec<DeviceTally>,
    /// End-to-end latency, microseconds.
    pub latency_us: Histogram<u64>,
    /// End-to-end latency since the run loop last took it (one wall second).
    pub latency_recent_us: Histogram<u64>,
    /// Payloads that could not be decoded.
    pub malformed: u64,
    /// Telemetry from device ids not in the fleet.
    pub unknown_device: u64,
    /// The analytics core, fed every decoded message.
    pub analytics: FleetAnalytics,
    /// Unix seconds of sim time 0, to read timestamps as sim time.
    pub start_epoch: f64,
    /// Recent history of the one device a reader is watching (the UI's detail view).
    pub watched: Option<Watched>,
    /// Devices found while attached to a running fleet: id and guessed model, by index.
    pub attached: Vec<(String, scenarios::ModelKind)>,
    /// Attach mode: statuses (retained, so they come first) of devices not seen yet.
    pending_status: HashMap<String, bool>,
    index: HashMap<String, u32>,
}

/// Most points per reading, and raw messages, kept for a watched device.
const WATCH_POINTS: usize = 240;
const WATCH_RAW: usize = 6;

/// History of one watched device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watched {
    /// Fleet index.
    pub device: u32,
    /// Per reading: (sim time, value), oldest first.
    pub series: Vec<(String, std::collections::VecDeque<(f64, f64)>)>,
    /// The latest raw payloads (text, cut at 200 characters), oldest first.
    pub raw: std::collections::VecDeque<String>,
}

impl Watched {
    /// Keep a message's readings (at `ts`, sim seconds) and its raw text.
    fn record(&mut self, ts: f64, readings: &[(String, f64)], payload: &[u8]) {
        for (name, v) in readings {
            let pos = match self.series.iter().position(|(n, _)| n == name) {
                Some(p) => p,
                None => {
                    self.series.push((name.clone(), Default::default()));
                    self.series.len() - 1
                }
            };
            let q = &mut self.series[pos].1;
            q.push_back((ts, *v));
            if q.len() > WATCH_POINTS {
                q.pop_front();
            }
        }
        let text: String = String::from_utf8_lossy(payload).chars().take(200).collect();
        self.raw.push_back(text);
        if self.raw.len() > WATCH_RAW {
            self.raw.pop_front();
        }
    }
}

impl IngestState {
    /// Start keeping history for `device` (dropping any other's); `None` stops.
    pub fn watch(&mut self, device: Option<u32>) {
        if self.watched.as_ref().map(|w| w.device) != device {
            self.watched = device.map(|d| Watched {
                device: d,
                ..Watched::default()
            });
        }
    }
}

impl IngestState {
    /// Empty state for a fleet of these ids, analysed by `analytics`.
    pub fn new(ids: &[String], analytics: FleetAnalytics, start_epoch: f64) -> IngestState {
        IngestState {
            devices: vec![DeviceTally::default(); ids.len()],
            latency_us: crate::report::latency_histogram(),
            latency_recent_us: crate::report::latency_histogram(),
            malformed: 0,
            unknown_device: 0,
            analytics,
            start_epoch,
            watched: None,
            attached: Vec::new(),
            pending_status: HashMap::new(),
            index: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect(),
        }
    }

    /// Add a device found while running (attach mode); returns its index.
    pub fn add_device(&mut self, id: &str, model: scenarios::ModelKind, period: f64) -> u32 {
        let i = self.analytics.add_device(id.to_string(), model, period);
        self.devices.push(DeviceTally {
            online: self.pending_status.remove(id),
            ..DeviceTally::default()
        });
        self.attached.push((id.to_string(), model));
        self.index.insert(id.to_string(), i);
        i
    }

    /// Fleet index of a device id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }
}

/// Counters the run watches while draining.
#[derive(Debug, Default)]
pub struct IngestCounters {
    /// Distinct telemetry messages received.
    pub unique: AtomicU64,
    /// All telemetry messages received, duplicates included.
    pub total: AtomicU64,
    /// Woken after each message.
    pub notify: Notify,
}

/// Topic layout ingest subscribes to.
#[derive(Debug, Clone)]
pub struct Topics {
    /// Telemetry template, with `{fleet}` filled and `{device}` left.
    pub telemetry: String,
    /// Status template, the same way.
    pub status: String,
}

/// MQTT filter for a template: the level holding `{device}` becomes `+`.
pub fn filter_of(template: &str) -> String {
    crate::wire::topic_filter(template, &["{device}"])
}

/// Does a topic match a template (with `{device}` one level)? Returns the device id.
pub fn match_template<'t>(template: &str, topic: &'t str) -> Option<&'t str> {
    let mut id = None;
    let mut tl = template.split('/');
    let mut pl = topic.split('/');
    loop {
        match (tl.next(), pl.next()) {
            (None, None) => return id.or(Some("")),
            (Some(t), Some(p)) => {
                if t == "{device}" {
                    id = Some(p);
                } else if t != p && t != "+" {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

/// Everything the ingest task needs.
pub struct Ingest {
    /// Shared state (locked briefly per message).
    pub state: Arc<Mutex<IngestState>>,
    /// Atomics for progress and drain.
    pub counters: Arc<IngestCounters>,
    /// Send times recorded by the dispatcher.
    pub send_log: Arc<SendLog>,
    /// Payload encoding.
    pub encoding: Encoding,
    /// Topics.
    pub topics: Topics,
    /// Attached to a fleet this process did not start: unknown devices are added as
    /// they appear instead of being counted as strangers.
    pub attach: bool,
}

/// Guess a device's model from the readings it publishes (attach mode), so the
/// analytics can watch the right readings with settings that suit the part.
pub fn guess_model(readings: &[(String, f64)]) -> scenarios::ModelKind {
    use scenarios::ModelKind as M;
    let has = |k: &str| readings.iter().any(|(n, _)| n == k);
    if has("pressure") {
        M::Bme280
    } else if has("moisture") {
        M::SoilMoisture
    } else if has("power") && has("voltage") {
        M::PowerMeter
    } else if has("temperature") && has("humidity") {
        M::Dht22
    } else if has("temperature") {
        M::Ds18b20
    } else {
        M::Relay
    }
}

/// First wait after a lost connection: ingest comes back faster than a device session
/// (whose backoff starts at [`crate::transport::backoff::FIRST`]), so that a broker
/// restart loses as little telemetry as possible.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between two connection attempts.
const RECONNECT_CAP: Duration = Duration::from_secs(2);

/// Connect, subscribe, then handle messages until `shutdown` fires. `ready` fires once
/// the subscriptions are acknowledged.
pub async fn run(
    ingest: Ingest,
    endpoint: crate::transport::endpoint::Endpoint,
    qos: QoS,
    ready: oneshot::Sender<()>,
    mut shutdown: crate::transport::shutdown::Shutdown,
) {
    let client_id = format!(
        "twin-ingest-{}-{}",
        std::process::id(),
        unix_us() % 1_000_000
    );
    let mut o = endpoint.options(client_id);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    o.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let mut ready = Some(ready);
    let mut backoff =
        crate::transport::backoff::Backoff::with_bounds(RECONNECT_FIRST, RECONNECT_CAP);
    let mut pending_subacks = 0;
    loop {
        let ev = tokio::select! {
            // Stopping wins over a ready event.
            biased;
            _ = shutdown.recv() => {
                // Say DISCONNECT, and poll until it is written: a broker then logs a
                // clean goodbye, not "closed its connection".
                let _ = client.try_disconnect();
                let drain = Duration::from_secs(2);
                crate::transport::session::until_disconnected(&mut eventloop, drain).await;
                return;
            }
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                let _ = client.try_subscribe(filter_of(&ingest.topics.telemetry), qos);
                let _ = client.try_subscribe(filter_of(&ingest.topics.status), QoS::AtLeastOnce);
                pending_subacks = 2;
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                pending_subacks -= 1;
                if pending_subacks == 0
                    && let Some(r) = ready.take()
                {
                    let _ = r.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => handle(&ingest, &p.topic, &p.payload),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "ingest connection error; retrying");
                tokio::select! {
                    _ = shutdown.recv() => {}
                    _ = tokio::time::sleep(backoff.next_wait()) => {}
                }
            }
        }
    }
}

/// Count one incoming message.
pub fn handle(ingest: &Ingest, topic: &str, payload: &[u8]) {
    if match_template(&ingest.topics.telemetry, topic).is_some() {
        handle_telemetry(ingest, topic, payload);
    } else if let Some(id) = match_template(&ingest.topics.status, topic) {
        handle_status(ingest, id, payload);
    }
}

/// Decode a telemetry message and count it: latency, sequence, readings, analytics,
/// the watched device's history, and the counters the run waits on.
fn handle_telemetry(ingest: &Ingest, topic: &str, payload: &[u8]) {
    let now = unix_us();
    let Ok(mut st) = ingest.state.lock() else {
        return;
    };
    let decoded = match Decoded::decode(ingest.encoding, payload) {
        Ok(d) => d,
        Err(e) => {
            st.malformed += 1;
            tracing::warn!(%topic, bytes = payload.len(), error = %e, "malformed telemetry payload");
            return;
        }
    };
    let Some(idx) = device_index(ingest, &mut st, topic, &decoded) else {
        return;
    };
    let record = ingest.send_log.take(idx, decoded.seq);
    let sent = decoded.sent_us.or(record.as_ref().map(|r| r.sent_us));
    if let Some(sent) = sent {
        let lat = now.saturating_sub(sent).max(1);
        st.latency_us.saturating_record(lat);
        st.latency_recent_us.saturating_record(lat);
    }
    let ts = decoded.timestamp - st.start_epoch;
    let readings = decoded.readings;
    let first = st.devices[idx as usize].seq.highest_seq.is_none();
    let mut seq = st.devices[idx as usize].record(decoded.seq, &readings);
    if ingest.attach && first {
        // Attached mid-run: what came before the first message seen is not a gap.
        seq.gap = 0;
        st.devices[idx as usize].first_seq = Some(decoded.seq);
    }
    st.devices[idx as usize].last_ts = Some(ts);
    let expected = record.map(|r| r.expected).unwrap_or_default();
    st.analytics.observe(idx, ts, &readings, &expected, seq);
    if let Some(w) = st.watched.as_mut().filter(|w| w.device == idx) {
        w.record(ts, &readings, payload);
    }
    let fresh = !seq.duplicate;
    drop(st);
    ingest.counters.total.fetch_add(1, Ordering::Relaxed);
    if fresh {
        ingest.counters.unique.fetch_add(1, Ordering::Release);
    }
    ingest.counters.notify.notify_waiters();
}

/// The fleet index of a message's device: a new one when attached, `None` (counted) for
/// a stranger.
fn device_index(
    ingest: &Ingest,
    st: &mut IngestState,
    topic: &str,
    decoded: &Decoded,
) -> Option<u32> {
    match st.index_of(&decoded.device_id) {
        Some(i) => Some(i),
        None if ingest.attach => {
            let model = guess_model(&decoded.readings);
            // The publish period is unknown here; a minute keeps staleness quiet.
            Some(st.add_device(&decoded.device_id, model, 60.0))
        }
        None => {
            st.unknown_device += 1;
            tracing::warn!(%topic, device_id = %decoded.device_id, "telemetry from a device not in the fleet");
            None
        }
    }
}

/// A retained `online`/`offline` status. Attached, a status may come before the
/// device's first telemetry: it is kept until the device appears.
fn handle_status(ingest: &Ingest, id: &str, payload: &[u8]) {
    let Ok(mut st) = ingest.state.lock() else {
        return;
    };
    let online = match payload {
        b"online" => Some(true),
        b"offline" => Some(false),
        _ => None,
    };
    if st.index_of(id).is_none()
        && ingest.attach
        && let Some(o) = online
    {
        st.pending_status.insert(id.to_string(), o);
    }
    if let Some(idx) = st.index_of(id) {
        st.devices[idx as usize].online = online;
        if let Some(o) = online {
            st.analytics.status(idx, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_duplicates_reordering_and_gaps() {
        let mut t = DeviceTally::default();
        assert_eq!(t.record(0, &[("t".into(), 1.0)]), SeqEvent::default());
        assert_eq!(t.record(2, &[("t".into(), 3.0)]).gap, 1);
        assert!(t.record(1, &[("t".into(), 2.0)]).out_of_order);
        assert!(t.record(2, &[("t".into(), 9.0)]).duplicate);
        assert_eq!(t.record(5, &[]).gap, 2);
        assert_eq!(
            (t.seq.received, t.seq.duplicates, t.seq.out_of_order),
            (4, 1, 1)
        );
        assert_eq!(t.gaps(), 2); // 3 and 4
        let s = t.readings[0].1;
        assert_eq!((s.count, s.min, s.max, s.mean()), (3, 1.0, 3.0, 2.0));
    }

    #[test]
    fn templates_match_topics_and_yield_the_device() {
        let t = "twin/home/{device}/telemetry";
        assert_eq!(match_template(t, "twin/home/th-1/telemetry"), Some("th-1"));
        assert_eq!(match_template(t, "twin/home/th-1/status"), None);
        assert_eq!(match_template(t, "twin/home/a/b/telemetry"), None);
        assert_eq!(filter_of(t), "twin/home/+/telemetry");
    }
}
