//! Counting what arrived: decoding, `seq` accounting, latency against the send log,
//! readings, analytics and the watched device's history.

use super::shared::Ingest;
use super::state::IngestState;
use super::topics::{filter_of, match_template};
use crate::rejected::{MAX_TELEMETRY_BYTES, Reason};
use crate::wire::Decoded;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Guess a device's model from the readings it publishes (attach mode, the mirror), so
/// the analytics can watch the right readings with settings that suit the part: the
/// built-in model that publishes the most of these readings, and of those the one with
/// the fewest readings it lacks (`temperature` alone is a DS18B20, with `humidity` a
/// DHT22, with `setpoint` a thermostat). Nothing in common with any model: a relay,
/// whose state the analytics do not watch.
pub fn guess_model(readings: &[(String, f64)]) -> scenarios::ModelKind {
    let has = |k: &str| readings.iter().any(|(n, _)| n == k);
    let mut best = (0, 0, scenarios::ModelKind::Relay);
    for m in scenarios::ModelKind::ALL {
        let names = m.readings();
        let shared = names.iter().filter(|n| has(n)).count();
        let lacking = names.len() - shared;
        if shared > best.0 || (shared == best.0 && shared > 0 && lacking < best.1) {
            best = (shared, lacking, m);
        }
    }
    best.2
}

/// One message as the socket task handed it on, with the time it was read.
#[derive(Debug)]
pub struct Arrival {
    /// The PUBLISH as it came; an oversized one without its payload.
    pub publish: rumqttc::Publish,
    /// Wall-clock Unix microseconds when the socket task read it: latency ends here,
    /// not when the counting task gets to it.
    pub at_us: u64,
    /// The payload's size when it was over [`MAX_TELEMETRY_BYTES`] (then dropped unread).
    pub oversized: Option<usize>,
}

impl Arrival {
    /// A message read now; a payload over [`MAX_TELEMETRY_BYTES`] is dropped at once, so
    /// what waits for counting stays small whatever arrives.
    pub fn new(mut publish: rumqttc::Publish, at_us: u64) -> Arrival {
        let len = publish.payload.len();
        let oversized = (len > MAX_TELEMETRY_BYTES).then_some(len);
        if oversized.is_some() {
            publish.payload = Default::default();
        }
        Arrival {
            publish,
            at_us,
            oversized,
        }
    }
}

/// Count a batch of arrivals under one lock; the counters and their waiters learn of
/// the batch once. Public for the fuzz target that feeds it hostile sequences.
pub fn count_batch(ingest: &Ingest, batch: &[Arrival]) {
    let Ok(mut st) = ingest.state.lock() else {
        return;
    };
    let (mut total, mut unique) = (0, 0);
    for a in batch {
        if let Some(fresh) = count_one(ingest, &mut st, a) {
            total += 1;
            unique += u64::from(fresh);
        }
    }
    say_unsaid(ingest, &mut st, false);
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

/// Count one arrival; `Some(fresh)` for telemetry the fleet sent (`fresh`: not a
/// duplicate).
fn count_one(ingest: &Ingest, st: &mut IngestState, a: &Arrival) -> Option<bool> {
    let topic = a.publish.topic.as_str();
    if let Some(by_topic) = match_template(&ingest.topics.telemetry, topic) {
        if let Some(bytes) = a.oversized {
            reject(
                ingest,
                st,
                Reason::Oversized,
                topic,
                &format!("{bytes} bytes"),
            );
            return None;
        }
        count_telemetry(ingest, st, topic, by_topic, &a.publish.payload, a.at_us)
    } else {
        if let Some(id) = match_template(&ingest.topics.status, topic) {
            count_status(ingest, st, id, &a.publish.payload);
        }
        None
    }
}

/// Count a message not counted as the fleet's, and warn of it (a few a window).
pub(super) fn reject(
    ingest: &Ingest,
    st: &mut IngestState,
    reason: Reason,
    topic: &str,
    detail: &str,
) {
    st.rejected.count(reason, topic);
    let (log, unsaid) = st.warns.admit(reason, Instant::now());
    if let Some(more) = unsaid {
        say_more(ingest, st, reason, more);
    }
    if log {
        tracing::warn!(%topic, %detail, "not counted: {}", reason.words());
    }
}

/// At the end: say every warning still unsaid.
pub(super) fn say_all_unsaid(ingest: &Ingest) {
    if let Ok(mut st) = ingest.state.lock() {
        say_unsaid(ingest, &mut st, true);
    }
}

/// Say the warnings of ended windows (every kind, with `all`) in one line a kind.
pub(super) fn say_unsaid(ingest: &Ingest, st: &mut IngestState, all: bool) {
    for (reason, more) in st.warns.due(Instant::now(), all) {
        say_more(ingest, st, reason, more);
    }
}

fn say_more(ingest: &Ingest, st: &IngestState, reason: Reason, more: u64) {
    tracing::warn!(
        "{more} more {} on {} in the last {} s",
        reason.words(),
        filter_of(&ingest.topics.telemetry),
        st.warns.window_secs()
    );
}

/// Decode a telemetry message and count it: latency, sequence, readings, analytics and
/// the watched device's history. `by_topic` is the device id its topic names (empty
/// when the template has none). `Some(fresh)` when it was counted.
fn count_telemetry(
    ingest: &Ingest,
    st: &mut IngestState,
    topic: &str,
    by_topic: &str,
    payload: &[u8],
    at_us: u64,
) -> Option<bool> {
    let decoded = match Decoded::decode(ingest.encoding, payload) {
        Ok(d) => d,
        Err(e) => {
            let detail = format!("{} bytes: {e}", payload.len());
            reject(ingest, st, Reason::Malformed, topic, &detail);
            return None;
        }
    };
    if !by_topic.is_empty() && by_topic != decoded.device_id {
        let detail = format!("device_id {:?}", decoded.device_id);
        reject(ingest, st, Reason::WrongDevice, topic, &detail);
        return None;
    }
    let idx = device_index(ingest, st, topic, &decoded)?;
    let record = ingest.send_log.take(idx, decoded.seq);
    if record.is_none() && !ingest.attach && !ingest.send_log.was_sent(idx, decoded.seq) {
        let detail = format!("seq {}", decoded.seq);
        reject(ingest, st, Reason::NeverSent, topic, &detail);
        return None;
    }
    // A run trusts its own send log; a fleet it did not start only the payload.
    let sent = match &record {
        Some(r) => Some(r.sent_us),
        None if ingest.attach => decoded.sent_us,
        None => None,
    };
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

/// The fleet index of a message's device: a new one when attached (while the cap
/// allows), `None` (counted) for a stranger.
fn device_index(
    ingest: &Ingest,
    st: &mut IngestState,
    topic: &str,
    decoded: &Decoded,
) -> Option<u32> {
    match st.index_of(&decoded.device_id) {
        Some(i) => Some(i),
        None if st.others.contains(&decoded.device_id) => None,
        None if ingest.attach && st.attached.len() < st.attach_cap => {
            let model = guess_model(&decoded.readings);
            // The publish period is unknown here; a minute keeps staleness quiet.
            Some(st.add_device(&decoded.device_id, model, 60.0))
        }
        None => {
            let detail = format!("device_id {:?}", decoded.device_id);
            if ingest.attach {
                st.over_cap += 1;
            }
            reject(ingest, st, Reason::UnknownDevice, topic, &detail);
            None
        }
    }
}

/// A retained `online`/`offline` status. Attached, a status may come before the
/// device's first telemetry: it is kept until the device appears. A gateway's
/// `offline` is every device's behind it (its `online` is followed by each device's).
fn count_status(ingest: &Ingest, st: &mut IngestState, id: &str, payload: &[u8]) {
    let online = match payload {
        b"online" => Some(true),
        b"offline" => Some(false),
        _ => None,
    };
    if let Some(members) = st.gateways.get(id) {
        if online == Some(false) {
            for &m in members {
                st.devices[m as usize].online = Some(false);
                st.analytics.status(m, false);
            }
        }
        return;
    }
    if st.index_of(id).is_none()
        && ingest.attach
        && let Some(o) = online
        && (st.pending_status.len() < st.attach_cap || st.pending_status.contains_key(id))
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
    use super::guess_model;
    use scenarios::ModelKind;

    #[test]
    fn each_built_in_model_is_known_by_its_readings() {
        for m in ModelKind::ALL {
            let readings: Vec<(String, f64)> =
                m.readings().iter().map(|r| (r.to_string(), 1.0)).collect();
            // An LED publishes what a relay does: the two cannot be told apart.
            let want = if m == ModelKind::Led {
                ModelKind::Relay
            } else {
                m.clone()
            };
            assert_eq!(guess_model(&readings), want, "{}", m.name());
        }
        // A part of a model's readings (a failed read, a device of one's own).
        let one = |k: &str| vec![(k.to_string(), 20.0)];
        assert_eq!(guess_model(&one("temperature")), ModelKind::Ds18b20);
        assert_eq!(guess_model(&one("humidity")), ModelKind::Dht22);
        assert_eq!(guess_model(&one("setpoint")), ModelKind::Thermostat);
        assert_eq!(guess_model(&one("something_else")), ModelKind::Relay);
    }
}
