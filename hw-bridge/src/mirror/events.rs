//! What a device's events do: readings into its statistics, the analytics core and its
//! twin; states into its shadow; online and offline, with their alerts.

use crate::adapter::Event;
use crate::mirror::device::Acc;
use crate::mirror::machine::{Mirror, Publish};
use crate::twin::Verdict;
use serde_json::Value;
use sim_core::analytics::fleet::{Alert, SeqEvent};
use sim_core::report::round4;

impl Mirror {
    /// What one message's events do to device `i`; what to publish in answer.
    pub(super) fn apply(
        &mut self,
        i: usize,
        events: &[Event],
        retained: bool,
        t: f64,
    ) -> Vec<Publish> {
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
                Event::State(key, v) => doc_changed |= self.reported(i, key, v, t),
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
                    let noun = if *n == 1 { "message" } else { "messages" };
                    self.notes.push(format!(
                        "{}: {n} {noun} lost (a gap in its sequence)",
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

    /// The device reported state `key`: into its shadow; whether the document changed.
    fn reported(&mut self, i: usize, key: &str, v: &Value, t: f64) -> bool {
        let d = &mut self.devices[i];
        let (changed, confirmed) = d.shadow.report(key, v);
        if changed {
            self.notes
                .push(format!("{}: reported {key} = {v}", d.cfg.id));
            for k in confirmed {
                self.notes
                    .push(format!("{}: {k} confirmed, delta cleared", d.cfg.id));
            }
            self.heater_switched(i, key, v, t);
        }
        changed
    }

    /// A switch some twin uses as its heater changed.
    pub(super) fn heater_switched(&mut self, i: usize, key: &str, v: &Value, t: f64) {
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

    pub(super) fn observe(&mut self, i: usize, readings: &[(String, f64)], t: f64) {
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
        let model = d
            .model
            .get_or_insert_with(|| sim_core::ingest::guess_model(readings))
            .clone();
        let index = match d.index {
            Some(x) => x,
            None => {
                let x =
                    self.analytics
                        .add_device(d.cfg.id.clone(), model.clone(), d.cfg.publish_every);
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
            if let Some(name) = model
                .analysed_readings()
                .into_iter()
                .find(|n| *n == tw.cfg.reading)
            {
                expected.push((sim_core::names::intern(name), predicted));
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

    pub(super) fn open_alert(
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

    pub(super) fn set_online(&mut self, i: usize, t: f64, out: &mut Vec<Publish>) {
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
    pub(super) fn set_offline(&mut self, i: usize, t: f64, why: &str, value: f64) -> bool {
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
}
