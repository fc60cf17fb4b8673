//! An emulated Sparkplug B edge node with one device, for tests.

use crate::adapter::sparkplug::command::REBIRTH;
use crate::adapter::sparkplug::proto::{self as sparkplug, Metric, MetricValue, Payload, datatype};
use crate::emulator::firmware::{Curve, Emulator, Firmware, Log, Msgs, spawn};
use prost::Message as _;
use rumqttc::{LastWill, QoS};
use std::time::{Duration, Instant};

/// Aliases the Sparkplug emulator declares in its BIRTHs, unique across the node.
const UPTIME: u64 = 1;
const TEMPERATURE: u64 = 2;
const RUNNING: u64 = 3;

struct Sparkplug {
    group: String,
    node: String,
    device: String,
    /// This session's number, in NBIRTH and in the will's NDEATH.
    bd_seq: u64,
    /// The last seq sent (every message but NDEATH counts, node and device alike);
    /// `None` until this session's NBIRTH is sent.
    seq: Option<u64>,
    running: bool,
    curve: Curve,
    started: Instant,
}

impl Sparkplug {
    fn topic(&self, kind: &str, device: bool) -> String {
        let (ns, g, n) = (sparkplug::NAMESPACE, &self.group, &self.node);
        if device {
            format!("{ns}/{g}/{kind}/{n}/{}", self.device)
        } else {
            format!("{ns}/{g}/{kind}/{n}")
        }
    }

    /// A message with the node's next seq (0 for an NBIRTH), `skip` numbers further on.
    fn message(
        &mut self,
        kind: &str,
        device: bool,
        metrics: Vec<Metric>,
        skip: u64,
    ) -> (String, Vec<u8>, bool) {
        let seq = match self.seq {
            Some(last) if kind != "NBIRTH" => (last + 1 + skip) % 256,
            _ => 0,
        };
        self.seq = Some(seq);
        let p = Payload {
            timestamp: Some(sim_core::wire::unix_us() / 1000),
            metrics,
            seq: Some(seq),
        };
        (self.topic(kind, device), p.encode_to_vec(), false)
    }

    /// NBIRTH then DBIRTH: every metric with its name, alias, datatype and value.
    fn births(&mut self) -> Msgs {
        let uptime = self.started.elapsed().as_secs();
        let temperature = (self.curve)(self.started.elapsed().as_secs_f64());
        let nbirth = vec![
            metric(
                Some(sparkplug::BD_SEQ),
                None,
                datatype::UINT64,
                MetricValue::Long(self.bd_seq),
            ),
            metric(
                Some(REBIRTH),
                None,
                datatype::BOOLEAN,
                MetricValue::Boolean(false),
            ),
            metric(
                Some("uptime"),
                Some(UPTIME),
                datatype::UINT64,
                MetricValue::Long(uptime),
            ),
        ];
        let dbirth = vec![
            metric(
                Some("temperature"),
                Some(TEMPERATURE),
                datatype::DOUBLE,
                MetricValue::Double(temperature),
            ),
            metric(
                Some("running"),
                Some(RUNNING),
                datatype::BOOLEAN,
                MetricValue::Boolean(self.running),
            ),
        ];
        vec![
            self.message("NBIRTH", false, nbirth, 0),
            self.message("DBIRTH", true, dbirth, 0),
        ]
    }
}

/// A metric as the emulator sends it; DATA metrics carry only their alias.
fn metric(name: Option<&str>, alias: Option<u64>, dt: u32, v: MetricValue) -> Metric {
    Metric {
        name: name.map(str::to_string),
        alias,
        datatype: name.map(|_| dt),
        value: Some(v),
        ..Metric::default()
    }
}

/// An NDEATH payload with this `bdSeq`: the emulator's last will, or a stale one a test
/// sends.
pub fn sparkplug_death(bd_seq: u64) -> Vec<u8> {
    Payload {
        timestamp: Some(sim_core::wire::unix_us() / 1000),
        metrics: vec![metric(
            Some(sparkplug::BD_SEQ),
            None,
            datatype::UINT64,
            MetricValue::Long(bd_seq),
        )],
        seq: None,
    }
    .encode_to_vec()
}

impl Firmware for Sparkplug {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        // A new session is born anew: the BIRTHs go out in the first period after it.
        self.seq = None;
        (
            vec![self.topic("NCMD", false), self.topic("DCMD", true)],
            Vec::new(),
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.switch_on = self.running;
        if self.seq.is_none() {
            return self.births();
        }
        log.published += 1;
        let uptime = self.message(
            "NDATA",
            false,
            vec![metric(
                None,
                Some(UPTIME),
                datatype::UINT64,
                MetricValue::Long(self.started.elapsed().as_secs()),
            )],
            0,
        );
        // A gap a test asks for shows on the device's message, so the device counts it.
        let skip = std::mem::take(&mut log.skip_seq);
        let temperature = self.message(
            "DDATA",
            true,
            vec![metric(
                None,
                Some(TEMPERATURE),
                datatype::DOUBLE,
                MetricValue::Double((self.curve)(t)),
            )],
            skip,
        );
        vec![uptime, temperature]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        let Ok(p) = Payload::decode(payload) else {
            return Vec::new();
        };
        let is = |m: &Metric, name: &str, alias: u64| {
            m.name.as_deref() == Some(name) || (m.name.is_none() && m.alias == Some(alias))
        };
        if topic == self.topic("NCMD", false) {
            let rebirth = p.metrics.iter().any(|m| {
                m.name.as_deref() == Some(REBIRTH) && m.value == Some(MetricValue::Boolean(true))
            });
            return if rebirth { self.births() } else { Vec::new() };
        }
        if topic != self.topic("DCMD", true) {
            return Vec::new();
        }
        let Some(MetricValue::Boolean(on)) = p
            .metrics
            .iter()
            .find(|m| is(m, "running", RUNNING))
            .and_then(|m| m.value.clone())
        else {
            return Vec::new();
        };
        self.running = on;
        log.switch_on = on;
        // The new value at once, as a DDATA by alias.
        vec![self.message(
            "DDATA",
            true,
            vec![metric(
                None,
                Some(RUNNING),
                datatype::BOOLEAN,
                MetricValue::Boolean(on),
            )],
            0,
        )]
    }

    fn describe(&self, _topic: &str, payload: &[u8]) -> String {
        let Ok(p) = Payload::decode(payload) else {
            return format!("{} bytes, not a Sparkplug payload", payload.len());
        };
        let parts: Vec<String> = p
            .metrics
            .iter()
            .map(|m| {
                let name = m
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("alias {}", m.alias.unwrap_or(0)));
                let v = match &m.value {
                    Some(MetricValue::Boolean(b)) => b.to_string(),
                    Some(MetricValue::Double(d)) => d.to_string(),
                    Some(other) => format!("{other:?}"),
                    None => "null".into(),
                };
                format!("{name}={v}")
            })
            .collect();
        parts.join(",")
    }
}

/// A Sparkplug B edge node `node` in group `group` with one device `device`:
/// - its will is an NDEATH carrying `bdSeq` 1, which the broker publishes when it is
///   killed;
/// - once connected it publishes NBIRTH (`bdSeq`, `Node Control/Rebirth`, `uptime`;
///   seq 0), then DBIRTH with `temperature` (Double, alias 2) and `running` (Boolean,
///   alias 3), then every `every` an NDATA (`uptime`) and a DDATA (`temperature`), by
///   alias;
/// - a DCMD setting `running` is answered by a DDATA with the new value, and an NCMD
///   `Node Control/Rebirth` by new BIRTHs.
///
/// `running` starts true. [`Emulator::skip_seq`] makes a gap in the seq on purpose.
pub fn sparkplug_node(
    url: &str,
    group: &str,
    node: &str,
    device: &str,
    every: Duration,
    curve: Curve,
) -> Emulator {
    let bd_seq = 1;
    let will = LastWill::new(
        format!("{}/{group}/NDEATH/{node}", sparkplug::NAMESPACE),
        sparkplug_death(bd_seq),
        QoS::AtLeastOnce,
        false,
    );
    spawn(
        url,
        node,
        will,
        every,
        Sparkplug {
            group: group.into(),
            node: node.into(),
            device: device.into(),
            bd_seq,
            seq: None,
            running: true,
            curve,
            started: Instant::now(),
        },
    )
}
