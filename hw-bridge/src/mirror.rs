//! The mirror's state machine: every message from a device goes through its adapter into
//! the device's readings, online state and shadow, and through sim-core's analytics core
//! beside its twin's prediction. No I/O and no clock: [`Mirror::handle`] and
//! [`Mirror::tick`] take the time and return what to publish.

use crate::adapter::{Adapter, Event, Outcome};
use crate::config::{DeviceConfig, MirrorConfig};
use crate::report::{MirrorReport, MirroredDevice, Reading, ShadowReport, TwinReport};
use crate::shadow::{Shadow, UpdateError};
use crate::twin::{Twin, Verdict};
use scenarios::ModelKind;
use serde_json::{Map, Value, json};
use sim_core::analytics::fleet::{Alert, FleetAnalytics, FleetConfig, SeqEvent};
use sim_core::report::{BrokerInfo, DeviceCounts, MessageCounts, round4};
use std::collections::BTreeMap;

/// A message the mirror wants published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Retained (shadow documents are, so a late reader gets the current one).
    pub retain: bool,
}

/// Malformed payloads logged per device before the log thins out to one in 100.
const LOGGED_MALFORMED: u64 = 10;

#[derive(Debug)]
struct Device {
    cfg: DeviceConfig,
    adapter: Adapter,
    received: u64,
    malformed: u64,
    last_malformed: Option<String>,
    online: bool,
    last_seen: Option<f64>,
    readings: BTreeMap<String, Acc>,
    shadow: Shadow,
    twin: Option<Twin>,
    /// Index in the analytics core, from the first reading on.
    index: Option<u32>,
    model: Option<ModelKind>,
    last_seq: Option<u64>,
    lost: u64,
    /// Open alerts of the mirror's own: disagreement with the twin, offline.
    divergence: Option<usize>,
    offline: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Acc {
    min: f64,
    max: f64,
    sum: f64,
    count: u64,
    last: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.count += 1;
        self.last = v;
    }
}

/// The mirror of a set of physical devices.
#[derive(Debug)]
pub struct Mirror {
    fleet: String,
    stale_after: f64,
    confirm_timeout: f64,
    max_payload: usize,
    devices: Vec<Device>,
    analytics: FleetAnalytics,
    alerts: Vec<Alert>,
    started: f64,
    clock: f64,
    commands_sent: u64,
    unattributed_malformed: u64,
    notes: Vec<String>,
}

impl Mirror {
    /// A mirror of the configured devices, started at `now` (seconds, any epoch).
    pub fn new(cfg: &MirrorConfig, now: f64) -> Mirror {
        let devices = cfg
            .devices
            .iter()
            .map(|d| Device {
                adapter: Adapter::new(d.adapter.clone()),
                received: 0,
                malformed: 0,
                last_malformed: None,
                online: false,
                last_seen: None,
                readings: BTreeMap::new(),
                shadow: Shadow::default(),
                twin: d.twin.clone().map(|t| Twin::new(t, 0.0)),
                index: None,
                model: d.model,
                last_seq: None,
                lost: 0,
                divergence: None,
                offline: None,
                cfg: d.clone(),
            })
            .collect();
        Mirror {
            fleet: cfg.fleet.clone(),
            stale_after: cfg.stale_after,
            confirm_timeout: cfg.confirm_timeout,
            max_payload: cfg.max_payload,
            devices,
            analytics: FleetAnalytics::new(FleetConfig::default(), Vec::new(), &[], &[]),
            alerts: Vec::new(),
            started: now,
            clock: 0.0,
            commands_sent: 0,
            unattributed_malformed: 0,
            notes: Vec::new(),
        }
    }

    /// Topic filters to subscribe to: every device's, and the shadow update topic.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut f: Vec<String> = self
            .devices
            .iter()
            .flat_map(|d| d.adapter.filters().iter().cloned())
            .collect();
        f.push(format!("twin/{}/+/shadow/update", self.fleet));
        f.sort();
        f.dedup();
        f
    }

    /// The shadow documents as they stand (published once connected).
    pub fn documents(&self) -> Vec<Publish> {
        (0..self.devices.len()).map(|i| self.document(i)).collect()
    }

    /// Lines worth showing a person (devices coming and going, shadow changes, alerts),
    /// since the last call.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    fn time(&mut self, now: f64) -> f64 {
        self.clock = self.clock.max(now - self.started);
        self.clock
    }

    /// One message from the broker, received at `now`. A retained message is old news:
    /// it counts, but only an explicit online announcement in it marks a device online.
    pub fn handle(
        &mut self,
        topic: &str,
        payload: &[u8],
        retained: bool,
        now: f64,
    ) -> Vec<Publish> {
        let t = self.time(now);
        if let Some(device) = self.shadow_update_target(topic) {
            return self.update(&device, payload, t);
        }
        let mut matched: Vec<(usize, Outcome)> = Vec::new();
        for (i, d) in self.devices.iter_mut().enumerate() {
            if d.adapter.wants(topic) {
                matched.push((i, d.adapter.decode(topic, payload, self.max_payload)));
            }
        }
        let all_malformed = matched
            .iter()
            .all(|(_, o)| matches!(o, Outcome::Malformed(_)));
        if matched.len() > 1 && all_malformed {
            // A shared topic, and the payload too broken to tell whose it was.
            self.unattributed_malformed += 1;
            if self.unattributed_malformed <= LOGGED_MALFORMED
                || self.unattributed_malformed.is_multiple_of(100)
            {
                tracing::warn!(
                    topic,
                    count = self.unattributed_malformed,
                    "malformed payload on a shared topic"
                );
            }
            return Vec::new();
        }
        let mut out = Vec::new();
        for (i, o) in matched {
            match o {
                Outcome::NotMine => {}
                Outcome::Malformed(why) => self.malformed(i, topic, why),
                Outcome::Events(ev) => out.extend(self.apply(i, &ev, retained, t)),
            }
        }
        out
    }

    fn shadow_update_target(&self, topic: &str) -> Option<String> {
        let rest = topic
            .strip_prefix("twin/")?
            .strip_prefix(self.fleet.as_str())?;
        let device = rest.strip_prefix('/')?.strip_suffix("/shadow/update")?;
        (!device.contains('/')).then(|| device.to_string())
    }

    /// A payload of device `id` that the session read itself and did not publish (a
    /// serial line over `max_payload`): counted and noted like any malformed payload,
    /// with `source` (the port) in place of a topic.
    pub fn count_malformed(&mut self, id: &str, source: &str, why: String) {
        if let Some(i) = self.devices.iter().position(|d| d.cfg.id == id) {
            self.malformed(i, source, why);
        }
    }

    fn malformed(&mut self, i: usize, topic: &str, why: String) {
        let d = &mut self.devices[i];
        d.malformed += 1;
        if d.malformed <= LOGGED_MALFORMED || d.malformed.is_multiple_of(100) {
            tracing::warn!(device = %d.cfg.id, topic, count = d.malformed, "malformed payload: {why}");
        }
        if d.malformed == 1 {
            self.notes
                .push(format!("{}: malformed payload on {topic}: {why}", d.cfg.id));
        }
        d.last_malformed = Some(why);
    }

    fn apply(&mut self, i: usize, events: &[Event], retained: bool, t: f64) -> Vec<Publish> {
        let mut out = Vec::new();
        let mut doc_changed = false;
        self.devices[i].received += 1;
        let says_offline = events.contains(&Event::Online(false));
        let says_online = events.contains(&Event::Online(true));
        if !retained || says_online {
            self.devices[i].last_seen = Some(t);
        }
        if says_offline {
            doc_changed |= self.set_offline(i, t, "its last will (or status) says offline", 0.0);
        } else if !self.devices[i].online && (!retained || says_online) {
            doc_changed = true;
            self.set_online(i, t, &mut out);
        }
        let mut readings: Vec<(String, f64)> = Vec::new();
        for e in events {
            match e {
                Event::Reading(name, v) => readings.push((name.clone(), *v)),
                Event::State(key, v) => {
                    let d = &mut self.devices[i];
                    let (changed, confirmed) = d.shadow.report(key, v);
                    if changed {
                        doc_changed = true;
                        self.notes
                            .push(format!("{}: reported {key} = {v}", d.cfg.id));
                        for k in confirmed {
                            self.notes
                                .push(format!("{}: {k} confirmed, delta cleared", d.cfg.id));
                        }
                        self.heater_switched(i, key, v, t);
                    }
                }
                Event::Seq(s) => {
                    let d = &mut self.devices[i];
                    if let Some(l) = d.last_seq
                        && *s > l + 1
                    {
                        d.lost += s - l - 1;
                    }
                    // A lower seq is a restart of the firmware's counter.
                    d.last_seq = Some(*s);
                }
                Event::Lost(n) => {
                    let d = &mut self.devices[i];
                    d.lost += n;
                    self.notes.push(format!(
                        "{}: {n} message(s) lost (a gap in its sequence)",
                        d.cfg.id
                    ));
                }
                Event::Send(c) => {
                    self.notes.push(format!(
                        "{}: sent {} ({} bytes)",
                        self.devices[i].cfg.id,
                        c.topic,
                        c.payload.len()
                    ));
                    out.push(Publish {
                        topic: c.topic.clone(),
                        payload: c.payload.clone(),
                        retain: false,
                    });
                }
                Event::Online(_) => {}
            }
        }
        if !readings.is_empty() {
            self.observe(i, &readings, t);
        }
        if doc_changed {
            out.push(self.document(i));
        }
        out
    }

    /// A switch some twin uses as its heater changed.
    fn heater_switched(&mut self, i: usize, key: &str, v: &Value, t: f64) {
        let id = self.devices[i].cfg.id.clone();
        let on = crate::value::as_reading(v).is_some_and(|x| x != 0.0);
        for d in &mut self.devices {
            if let Some(tw) = &mut d.twin
                && tw
                    .cfg
                    .heater
                    .as_ref()
                    .is_some_and(|(dev, k)| *dev == id && k == key)
            {
                tw.set_heater(on, t);
            }
        }
    }

    fn observe(&mut self, i: usize, readings: &[(String, f64)], t: f64) {
        let d = &mut self.devices[i];
        for (name, v) in readings {
            d.readings
                .entry(name.clone())
                .and_modify(|a| a.add(*v))
                .or_insert(Acc {
                    min: *v,
                    max: *v,
                    sum: *v,
                    count: 1,
                    last: *v,
                });
        }
        let model = *d
            .model
            .get_or_insert_with(|| sim_core::ingest::guess_model(readings));
        let index = match d.index {
            Some(x) => x,
            None => {
                let x = self
                    .analytics
                    .add_device(d.cfg.id.clone(), model, d.cfg.publish_every);
                d.index = Some(x);
                x
            }
        };
        let mut expected: Vec<(&'static str, f64)> = Vec::new();
        let mut verdict = None;
        if let Some(tw) = &mut d.twin
            && let Some(&(_, v)) = readings.iter().find(|(n, _)| *n == tw.cfg.reading)
        {
            let (predicted, vd) = tw.observe(t, v);
            if let Some(&name) = model
                .analysed_readings()
                .iter()
                .find(|n| **n == tw.cfg.reading)
            {
                expected.push((name, predicted));
            }
            verdict = Some((vd, tw.cfg.reading.clone(), v, predicted));
        }
        self.analytics
            .observe(index, t, readings, &expected, SeqEvent::default());
        match verdict {
            Some((Verdict::Opened(start), reading, v, predicted)) => {
                let id = self.devices[i].cfg.id.clone();
                self.notes.push(format!(
                    "{id}: {reading} disagrees with its twin: {v} against {predicted:.2} predicted"
                ));
                let a = self.open_alert(
                    i,
                    Some(reading),
                    "divergence",
                    start,
                    t,
                    round4(v - predicted),
                );
                self.devices[i].divergence = Some(a);
            }
            Some((Verdict::Closed, reading, ..)) => {
                if let Some(a) = self.devices[i].divergence.take() {
                    self.alerts[a].end = Some(t);
                    self.notes.push(format!(
                        "{}: {reading} agrees with its twin again",
                        self.devices[i].cfg.id
                    ));
                }
            }
            _ => {}
        }
    }

    fn open_alert(
        &mut self,
        i: usize,
        sensor: Option<String>,
        kind: &str,
        start: f64,
        raised: f64,
        value: f64,
    ) -> usize {
        self.alerts.push(Alert {
            device: self.devices[i].cfg.id.clone(),
            sensor,
            kind: kind.into(),
            start: round4(start),
            end: None,
            raised: round4(raised),
            value,
            device_index: i as u32,
        });
        self.alerts.len() - 1
    }

    fn set_online(&mut self, i: usize, t: f64, out: &mut Vec<Publish>) {
        let d = &mut self.devices[i];
        d.online = true;
        self.notes.push(format!("{}: online", d.cfg.id));
        if let Some(a) = d.offline.take() {
            self.alerts[a].end = Some(round4(t));
        }
        // Commands sent while it was away were lost with it: send what is still wanted.
        let delta = self.devices[i].shadow.delta();
        for (k, v) in delta {
            if let Some(p) = self.command(i, &k, &v) {
                out.push(p);
            }
        }
    }

    /// Mark a device offline; returns whether it was online.
    fn set_offline(&mut self, i: usize, t: f64, why: &str, value: f64) -> bool {
        if !self.devices[i].online && self.devices[i].offline.is_some() {
            return false;
        }
        let was = self.devices[i].online;
        self.devices[i].online = false;
        let id = self.devices[i].cfg.id.clone();
        self.notes.push(format!("{id}: offline: {why}"));
        let a = self.open_alert(i, None, "offline", t, t, value);
        self.devices[i].offline = Some(a);
        was
    }

    fn command(&mut self, i: usize, key: &str, value: &Value) -> Option<Publish> {
        let d = &self.devices[i];
        match d.adapter.command(key, value) {
            Ok(c) => {
                self.commands_sent += 1;
                self.notes.push(format!(
                    "{}: {key} = {value} sent as {} {}",
                    d.cfg.id,
                    c.topic,
                    String::from_utf8_lossy(&c.payload)
                ));
                Some(Publish {
                    topic: c.topic,
                    payload: c.payload,
                    retain: false,
                })
            }
            Err(e) => {
                self.notes
                    .push(format!("{}: cannot send {key}: {e}", d.cfg.id));
                None
            }
        }
    }

    fn topic(&self, i: usize, suffix: &str) -> String {
        format!(
            "twin/{}/{}/shadow{suffix}",
            self.fleet, self.devices[i].cfg.id
        )
    }

    fn document(&self, i: usize) -> Publish {
        let d = &self.devices[i];
        Publish {
            topic: self.topic(i, ""),
            payload: d.shadow.document(d.online).to_string().into_bytes(),
            retain: true,
        }
    }

    /// A shadow update `{"state":{"desired":{...}},"version":N,"client_token":"..."}`.
    fn update(&mut self, device: &str, payload: &[u8], t: f64) -> Vec<Publish> {
        let doc: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
        let token = doc.get("client_token").cloned().unwrap_or(Value::Null);
        let reject = |topic: String, code: u16, message: String| {
            vec![Publish {
                topic,
                payload: json!({"code": code, "message": message, "client_token": token})
                    .to_string()
                    .into_bytes(),
                retain: false,
            }]
        };
        let Some(i) = self.devices.iter().position(|d| d.cfg.id == device) else {
            return reject(
                format!("twin/{}/{device}/shadow/update/rejected", self.fleet),
                404,
                format!("no device \"{device}\" in this mirror"),
            );
        };
        let rejected = self.topic(i, "/update/rejected");
        let Some(desired) = doc
            .pointer("/state/desired")
            .and_then(Value::as_object)
            .cloned()
        else {
            return reject(
                rejected,
                400,
                "expected {\"state\":{\"desired\":{...}}}".into(),
            );
        };
        let version = match doc.get("version") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_u64() {
                Some(v) => Some(v),
                None => return reject(rejected, 400, "version must be a whole number".into()),
            },
        };
        for (k, v) in desired.iter().filter(|(_, v)| !v.is_null()) {
            if let Err(e) = self.devices[i].adapter.command(k, v) {
                return reject(rejected, 400, format!("{k}: {e}"));
            }
        }
        let deadline = t + self.confirm_timeout;
        let new_version = match self.devices[i].shadow.desire(&desired, version, deadline) {
            Ok(v) => v,
            Err(e @ UpdateError::Conflict { .. }) => return reject(rejected, 409, e.to_string()),
            Err(e) => return reject(rejected, 400, e.to_string()),
        };
        let mut out = vec![Publish {
            topic: self.topic(i, "/update/accepted"),
            payload: json!({"state": {"desired": desired}, "version": new_version, "client_token": token})
                .to_string()
                .into_bytes(),
            retain: false,
        }];
        let delta = self.devices[i].shadow.delta();
        // The normalised value (`true`, not `"on"`) is what the device is asked for.
        for (k, v) in delta.iter().filter(|(k, _)| desired.contains_key(*k)) {
            out.extend(self.command(i, k, v));
        }
        out.push(self.document(i));
        out
    }

    /// Time passes: devices silent past `stale_after` go offline, desired states not
    /// confirmed in time raise `unconfirmed`, silent sensors go stale.
    pub fn tick(&mut self, now: f64) -> Vec<Publish> {
        let t = self.time(now);
        let mut out = Vec::new();
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            if d.online
                && let Some(seen) = d.last_seen
                && t - seen > self.stale_after
            {
                let why = format!("silent for {:.0} s", t - seen);
                self.set_offline(i, t, &why, round4(t - seen));
                out.push(self.document(i));
            }
            for k in self.devices[i].shadow.expired(t) {
                let id = self.devices[i].cfg.id.clone();
                self.notes.push(format!(
                    "{id}: {k} not confirmed within {:.0} s",
                    self.confirm_timeout
                ));
                let a =
                    self.open_alert(i, Some(k), "unconfirmed", t - self.confirm_timeout, t, 0.0);
                self.alerts[a].end = Some(round4(t));
            }
        }
        if self.analytics.now().is_some() {
            self.analytics.scan(t);
        }
        out
    }

    /// The report as things stand at `now`.
    pub fn report(&self, now: f64, broker: BrokerInfo, interrupted: bool) -> MirrorReport {
        let t = (now - self.started).max(self.clock);
        let per_device: Vec<MirroredDevice> = self.devices.iter().map(device_report).collect();
        let received: u64 = per_device.iter().map(|d| d.received).sum();
        let lost: u64 = per_device.iter().map(|d| d.lost).sum();
        let malformed: u64 =
            per_device.iter().map(|d| d.malformed).sum::<u64>() + self.unattributed_malformed;
        let mut alerts = self.analytics.alerts();
        alerts.extend(self.alerts.iter().cloned());
        alerts.sort_by(|a, b| a.start.total_cmp(&b.start));
        for a in &mut alerts {
            a.start = round4(a.start);
            a.raised = round4(a.raised);
            a.end = a.end.map(round4);
        }
        MirrorReport {
            tool: "twin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: "mirror".into(),
            scenario: self.fleet.clone(),
            seed: 0,
            sim_seconds: round4(t),
            wall_seconds: round4(t),
            broker,
            devices: DeviceCounts {
                total: per_device.len() as u64,
                seen: per_device.iter().filter(|d| d.received > 0).count() as u64,
                online: per_device.iter().filter(|d| d.online).count() as u64,
            },
            messages: MessageCounts {
                sent: received + lost,
                received,
                lost,
                duplicates: 0,
                out_of_order: 0,
                dropped_at_source: 0,
                malformed,
            },
            latency_ms: None,
            alerts,
            per_device,
            commands_sent: self.commands_sent,
            unattributed_malformed: self.unattributed_malformed,
            interrupted,
        }
    }
}

fn device_report(d: &Device) -> MirroredDevice {
    MirroredDevice {
        id: d.cfg.id.clone(),
        model: d.model.map(|m| m.name().to_string()),
        adapter: d.adapter.name().into(),
        received: d.received,
        lost: d.lost,
        malformed: d.malformed,
        last_malformed: d.last_malformed.clone(),
        online: d.online,
        last_seen: d.last_seen.map(round4),
        readings: d
            .readings
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    Reading {
                        min: round4(a.min),
                        mean: round4(a.sum / a.count as f64),
                        max: round4(a.max),
                        last: round4(a.last),
                        count: a.count,
                    },
                )
            })
            .collect(),
        shadow: ShadowReport {
            desired: d.shadow.desired.clone(),
            reported: d.shadow.reported.clone(),
            delta: d.shadow.delta(),
            version: d.shadow.version,
        },
        twin: d.twin.as_ref().map(|t| TwinReport {
            reading: t.cfg.reading.clone(),
            predicted: t.predicted().map(round4),
            residual: t.residual.map(round4),
            max_abs_residual: round4(t.max_abs_residual),
            heater_on: t.heater_on,
            diverging: t.diverging,
        }),
    }
}

/// A shadow update payload setting `desired`.
pub fn update_payload(desired: &Map<String, Value>, version: Option<u64>, token: &str) -> Vec<u8> {
    let mut doc = json!({"state": {"desired": desired}, "client_token": token});
    if let Some(v) = version {
        doc["version"] = json!(v);
    }
    doc.to_string().into_bytes()
}

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
