//! [`Mirror`]: the devices, the analytics core and the alerts, and the routing of each
//! message (a device's, or a shadow update) and each tick.

use crate::adapter::{Adapter, Outcome};
use crate::config::MirrorConfig;
use crate::mirror::device::Device;
use crate::shadow::Shadow;
use crate::twin::Twin;
use sim_core::analytics::fleet::{Alert, FleetAnalytics, FleetConfig};
use sim_core::report::round4;
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

/// The mirror of a set of physical devices.
#[derive(Debug)]
pub struct Mirror {
    pub(super) fleet: String,
    pub(super) stale_after: f64,
    pub(super) confirm_timeout: f64,
    pub(super) max_payload: usize,
    pub(super) devices: Vec<Device>,
    pub(super) analytics: FleetAnalytics,
    pub(super) alerts: Vec<Alert>,
    pub(super) started: f64,
    pub(super) clock: f64,
    pub(super) commands_sent: u64,
    pub(super) unattributed_malformed: u64,
    pub(super) notes: Vec<String>,
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
                model: d.model.clone(),
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

    pub(super) fn time(&mut self, now: f64) -> f64 {
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

    pub(super) fn shadow_update_target(&self, topic: &str) -> Option<String> {
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

    pub(super) fn malformed(&mut self, i: usize, topic: &str, why: String) {
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

    pub(super) fn topic(&self, i: usize, suffix: &str) -> String {
        format!(
            "twin/{}/{}/shadow{suffix}",
            self.fleet, self.devices[i].cfg.id
        )
    }

    pub(super) fn document(&self, i: usize) -> Publish {
        let d = &self.devices[i];
        Publish {
            topic: self.topic(i, ""),
            payload: d.shadow.document(d.online).to_string().into_bytes(),
            retain: true,
        }
    }
}
