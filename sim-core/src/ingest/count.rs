//! Counting what arrived: decoding, `seq` accounting, latency against the send log,
//! readings, analytics and the watched device's history.

use super::shared::Ingest;
use super::state::IngestState;
use super::topics::match_template;
use crate::wire::Decoded;
use std::sync::atomic::Ordering;

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

/// One message as the socket task handed it on, with the time it was read.
#[derive(Debug)]
pub struct Arrival {
    /// The PUBLISH as it came.
    pub publish: rumqttc::Publish,
    /// Wall-clock Unix microseconds when the socket task read it: latency ends here,
    /// not when the counting task gets to it.
    pub at_us: u64,
}

/// Count a batch of arrivals under one lock; the counters and their waiters learn of
/// the batch once.
pub(super) fn count_batch(ingest: &Ingest, batch: &[Arrival]) {
    let Ok(mut st) = ingest.state.lock() else {
        return;
    };
    let (mut total, mut unique) = (0, 0);
    for a in batch {
        let p = &a.publish;
        if let Some(fresh) = count_one(ingest, &mut st, &p.topic, &p.payload, a.at_us) {
            total += 1;
            unique += u64::from(fresh);
        }
    }
    drop(st);
    bump(ingest, total, unique);
}

/// Telemetry counted: the run's counters, and whoever waits on them.
fn bump(ingest: &Ingest, total: u64, unique: u64) {
    if total == 0 {
        return;
    }
    ingest.counters.total.fetch_add(total, Ordering::Relaxed);
    ingest.counters.unique.fetch_add(unique, Ordering::Release);
    ingest.counters.notify.notify_waiters();
}

/// Count one message read at `at_us`; `Some(fresh)` for telemetry of a known device
/// (`fresh`: not a duplicate).
fn count_one(
    ingest: &Ingest,
    st: &mut IngestState,
    topic: &str,
    payload: &[u8],
    at_us: u64,
) -> Option<bool> {
    if match_template(&ingest.topics.telemetry, topic).is_some() {
        count_telemetry(ingest, st, topic, payload, at_us)
    } else {
        if let Some(id) = match_template(&ingest.topics.status, topic) {
            count_status(ingest, st, id, payload);
        }
        None
    }
}

/// Decode a telemetry message and count it: latency, sequence, readings, analytics and
/// the watched device's history. `Some(fresh)` when it was counted.
fn count_telemetry(
    ingest: &Ingest,
    st: &mut IngestState,
    topic: &str,
    payload: &[u8],
    at_us: u64,
) -> Option<bool> {
    let decoded = match Decoded::decode(ingest.encoding, payload) {
        Ok(d) => d,
        Err(e) => {
            st.malformed += 1;
            tracing::warn!(%topic, bytes = payload.len(), error = %e, "malformed telemetry payload");
            return None;
        }
    };
    let idx = device_index(ingest, st, topic, &decoded)?;
    let record = ingest.send_log.take(idx, decoded.seq);
    let sent = decoded.sent_us.or(record.as_ref().map(|r| r.sent_us));
    if let Some(sent) = sent {
        let lat = at_us.saturating_sub(sent).max(1);
        st.latency_us.saturating_record(lat);
        st.latency_recent_us.saturating_record(lat);
    }
    let ts = decoded.timestamp - st.start_epoch;
    let readings = decoded.readings;
    let device = &mut st.devices[idx as usize];
    let first = device.seq.highest_seq.is_none();
    let mut seq = device.record(decoded.seq, &readings);
    if ingest.attach && first {
        // Attached mid-run: what came before the first message seen is not a gap.
        seq.gap = 0;
        device.first_seq = Some(decoded.seq);
    }
    device.last_ts = Some(ts);
    let expected = record.map(|r| r.expected).unwrap_or_default();
    st.analytics.observe(idx, ts, &readings, &expected, seq);
    if let Some(w) = st.watched.as_mut().filter(|w| w.device == idx) {
        w.record(ts, &readings, payload);
    }
    Some(!seq.duplicate)
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
        None if st.others.contains(&decoded.device_id) => None,
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
fn count_status(ingest: &Ingest, st: &mut IngestState, id: &str, payload: &[u8]) {
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
