//! Device emulators for tests: a Tasmota plug with a DHT22 (AM2301), an ESPHome node, a
//! Homie 4 device, a Sparkplug B edge node with one device, a plug that announces itself
//! by Home Assistant MQTT discovery, and a MicroPython-style generic JSON sensor, each a
//! real MQTT session that publishes the way its firmware does, obeys its native
//! commands, and leaves a last will. Killing one drops its
//! connection without a goodbye, so the broker fires the will.

use crate::adapter::sparkplug::proto::{self as sparkplug, Metric, MetricValue, Payload, datatype};
use prost::Message as _;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What a device's temperature is, given seconds since it started.
pub type Curve = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// What an emulator did, for tests to check.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Log {
    /// Native commands received: (topic, payload).
    pub commands: Vec<(String, String)>,
    /// Its switch (Tasmota POWER, ESPHome `fan`, the JSON sensor's `relay`).
    pub switch_on: bool,
    /// Telemetry messages published.
    pub published: u64,
    /// Sequence numbers to skip before the next data message, for a test that makes a
    /// gap on purpose (the Sparkplug node reads it).
    pub skip_seq: u64,
}

/// A running emulator; killed (connection dropped, last will fired) on [`Emulator::kill`]
/// or drop.
#[derive(Debug)]
pub struct Emulator {
    task: JoinHandle<()>,
    log: Arc<Mutex<Log>>,
}

impl Emulator {
    /// What it did so far.
    pub fn log(&self) -> Log {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Drop the connection without DISCONNECT: the broker publishes the last will.
    pub fn kill(&self) {
        self.task.abort();
    }

    /// Skip `n` sequence numbers before the next data message, as if `n` messages were
    /// lost on the way (the Sparkplug node skips them before its next DDATA).
    pub fn skip_seq(&self, n: u64) {
        if let Ok(mut l) = self.log.lock() {
            l.skip_seq += n;
        }
    }

    /// Wait until `check` holds for the log, at most `timeout`.
    pub async fn wait_for(&self, timeout: Duration, check: impl Fn(&Log) -> bool) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if check(&self.log()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check(&self.log())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn options(url: &str, id: &str, will: LastWill) -> MqttOptions {
    let (host, port, _) =
        sim_core::transport::endpoint::parse_url(url).unwrap_or(("127.0.0.1".into(), 1883, false));
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_last_will(will);
    o
}

/// A retained text last will (`offline`, `Offline`, `lost`).
fn text_will(topic: &str, payload: &str) -> LastWill {
    LastWill::new(topic, payload.as_bytes().to_vec(), QoS::AtLeastOnce, true)
}

/// Messages to publish: (topic, payload, retain).
type Msgs = Vec<(String, Vec<u8>, bool)>;

/// What a device does: on connect, on each period, on each command.
trait Firmware: Send + 'static {
    fn on_connect(&mut self) -> (Vec<String>, Msgs);
    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs;
    fn on_command(&mut self, topic: &str, payload: &[u8], t: f64, log: &mut Log) -> Msgs;
    /// A command as [`Log::commands`] keeps it: its text, unless the firmware reads a
    /// binary format.
    fn describe(&self, _topic: &str, payload: &[u8]) -> String {
        String::from_utf8_lossy(payload).into_owned()
    }
}

fn spawn(url: &str, id: &str, will: LastWill, every: Duration, mut fw: impl Firmware) -> Emulator {
    let log = Arc::new(Mutex::new(Log::default()));
    let opts = options(url, id, will);
    let task = {
        let log = log.clone();
        tokio::spawn(async move {
            let (client, mut eventloop) = AsyncClient::new(opts, 256);
            let started = Instant::now();
            let mut tick = tokio::time::interval(every);
            let mut connected = false;
            let send = |msgs: Msgs| {
                for (topic, payload, retain) in msgs {
                    let _ = client.try_publish(topic, QoS::AtLeastOnce, retain, payload);
                }
            };
            loop {
                tokio::select! {
                    ev = eventloop.poll() => match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connected = true;
                            let (subs, msgs) = fw.on_connect();
                            for s in subs {
                                let _ = client.try_subscribe(s, QoS::AtLeastOnce);
                            }
                            send(msgs);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let text = fw.describe(&p.topic, &p.payload);
                            let msgs = match log.lock() {
                                Ok(mut l) => {
                                    l.commands.push((p.topic.clone(), text));
                                    fw.on_command(&p.topic, &p.payload, started.elapsed().as_secs_f64(), &mut l)
                                }
                                Err(_) => Vec::new(),
                            };
                            send(msgs);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    },
                    _ = tick.tick(), if connected => {
                        let msgs = match log.lock() {
                            Ok(mut l) => fw.on_period(started.elapsed().as_secs_f64(), &mut l),
                            Err(_) => Vec::new(),
                        };
                        send(msgs);
                    }
                }
            }
        })
    };
    Emulator { task, log }
}

struct Tasmota {
    topic: String,
    curve: Curve,
}

impl Tasmota {
    fn power(&self, on: bool) -> Msgs {
        let word = if on { "ON" } else { "OFF" };
        vec![
            (
                format!("stat/{}/RESULT", self.topic),
                json!({"POWER": word}).to_string().into_bytes(),
                false,
            ),
            (
                format!("stat/{}/POWER", self.topic),
                word.as_bytes().to_vec(),
                false,
            ),
        ]
    }
}

impl Firmware for Tasmota {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let t = &self.topic;
        let discovery = json!({"ip": "127.0.0.1", "dn": "Emulated plug", "hn": t, "mac": "5CCF7F0000AA", "md": "Sonoff S31", "t": t, "ft": "%prefix%/%topic%/", "tp": ["cmnd", "stat", "tele"]});
        (
            vec![format!("cmnd/{t}/+")],
            vec![
                (format!("tele/{t}/LWT"), b"Online".to_vec(), true),
                (
                    "tasmota/discovery/5CCF7F0000AA/config".into(),
                    discovery.to_string().into_bytes(),
                    true,
                ),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        let temp = ((self.curve)(t) * 10.0).round() / 10.0;
        let power = if log.switch_on { "ON" } else { "OFF" };
        vec![
            (
                format!("tele/{}/SENSOR", self.topic),
                json!({"Time": "2026-11-23T10:00:00", "AM2301": {"Temperature": temp, "Humidity": 45.0, "DewPoint": 9.0}, "TempUnit": "C"}).to_string().into_bytes(),
                false,
            ),
            (
                format!("tele/{}/STATE", self.topic),
                json!({"Time": "2026-11-23T10:00:00", "POWER": power, "Wifi": {"RSSI": 76}}).to_string().into_bytes(),
                false,
            ),
        ]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        if topic != format!("cmnd/{}/POWER", self.topic) {
            return Vec::new();
        }
        log.switch_on = match String::from_utf8_lossy(payload)
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "ON" | "1" => true,
            "OFF" | "0" => false,
            "TOGGLE" | "2" => !log.switch_on,
            _ => return self.power(log.switch_on),
        };
        self.power(log.switch_on)
    }
}

/// A Tasmota plug with an AM2301 (DHT22) on topic `topic`, publishing SENSOR and STATE
/// every `every`, switching on `cmnd/{topic}/POWER`.
pub fn tasmota_plug(url: &str, topic: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("tele/{topic}/LWT");
    spawn(
        url,
        &format!("DVES_{topic}"),
        text_will(&will, "Offline"),
        every,
        Tasmota {
            topic: topic.into(),
            curve,
        },
    )
}

struct Esphome {
    node: String,
    curve: Curve,
}

impl Firmware for Esphome {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let n = &self.node;
        (
            vec![format!("{n}/switch/+/command")],
            vec![
                (format!("{n}/status"), b"online".to_vec(), true),
                (format!("{n}/switch/fan/state"), b"OFF".to_vec(), true),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        vec![(
            format!("{}/sensor/{}_temperature/state", self.node, self.node),
            format!("{:.2}", (self.curve)(t)).into_bytes(),
            false,
        )]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        if topic != format!("{}/switch/fan/command", self.node) {
            return Vec::new();
        }
        log.switch_on = match String::from_utf8_lossy(payload)
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "ON" => true,
            "OFF" => false,
            "TOGGLE" => !log.switch_on,
            _ => log.switch_on,
        };
        let word: &[u8] = if log.switch_on { b"ON" } else { b"OFF" };
        vec![(
            format!("{}/switch/fan/state", self.node),
            word.to_vec(),
            true,
        )]
    }
}

/// An ESPHome node `node` with a temperature sensor `{node}_temperature` and a switch
/// `fan`.
pub fn esphome_node(url: &str, node: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("{node}/status");
    spawn(
        url,
        node,
        text_will(&will, "offline"),
        every,
        Esphome {
            node: node.into(),
            curve,
        },
    )
}

struct JsonSensor {
    id: String,
    seq: u64,
    curve: Curve,
}

impl JsonSensor {
    fn telemetry(&mut self, t: f64, log: &mut Log) -> (String, Vec<u8>, bool) {
        log.published += 1;
        let seq = self.seq;
        self.seq += 1;
        let p = json!({
            "device_id": self.id, "seq": seq, "timestamp": sim_core::wire::unix_us() as f64 / 1e6,
            "temperature": ((self.curve)(t) * 100.0).round() / 100.0, "humidity": 41.5, "relay": log.switch_on,
        });
        (
            format!("sensors/{}/telemetry", self.id),
            p.to_string().into_bytes(),
            false,
        )
    }
}

impl Firmware for JsonSensor {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        (
            vec![format!("sensors/{}/cmd", self.id)],
            vec![(
                format!("sensors/{}/status", self.id),
                b"online".to_vec(),
                true,
            )],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        vec![self.telemetry(t, log)]
    }

    fn on_command(&mut self, _topic: &str, payload: &[u8], t: f64, log: &mut Log) -> Msgs {
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
        if let Some(on) = v
            .pointer("/set/relay")
            .map(crate::value::normalise)
            .and_then(|v| v.as_bool())
        {
            log.switch_on = on;
        }
        // Report the new state at once, as the firmware in hw-bridge/firmware does.
        vec![self.telemetry(t, log)]
    }
}

/// A MicroPython-style sensor: `{"device_id":…,"seq":…,"temperature":…,"relay":…}` on
/// `sensors/{id}/telemetry`, status on `sensors/{id}/status`, commands on
/// `sensors/{id}/cmd`.
pub fn json_sensor(url: &str, id: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("sensors/{id}/status");
    spawn(
        url,
        id,
        text_will(&will, "offline"),
        every,
        JsonSensor {
            id: id.into(),
            seq: 0,
            curve,
        },
    )
}

struct Homie {
    id: String,
    curve: Curve,
}

impl Homie {
    fn relay(&self, on: bool) -> (String, Vec<u8>, bool) {
        (
            format!("homie/{}/relay/on", self.id),
            on.to_string().into_bytes(),
            true,
        )
    }
}

impl Firmware for Homie {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let d = format!("homie/{}", self.id);
        let retained = |t: &str, p: &str| (format!("{d}/{t}"), p.as_bytes().to_vec(), true);
        (
            vec![format!("{d}/+/+/set")],
            vec![
                retained("$homie", "4.0"),
                retained("$name", "Emulated greenhouse"),
                retained("$state", "init"),
                retained("$nodes", "sensor,relay"),
                retained("sensor/$name", "Climate"),
                retained("sensor/$properties", "temperature"),
                retained("sensor/temperature/$datatype", "float"),
                retained("sensor/temperature/$unit", "°C"),
                retained("relay/$name", "Relay"),
                retained("relay/$properties", "on"),
                retained("relay/on/$datatype", "boolean"),
                retained("relay/on/$settable", "true"),
                retained("relay/on", "false"),
                retained("$state", "ready"),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        vec![(
            format!("homie/{}/sensor/temperature", self.id),
            format!("{:.2}", (self.curve)(t)).into_bytes(),
            true,
        )]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        if topic != format!("homie/{}/relay/on/set", self.id) {
            return Vec::new();
        }
        // Homie booleans are exactly `true` or `false`; anything else is ignored.
        match payload {
            b"true" => log.switch_on = true,
            b"false" => log.switch_on = false,
            _ => return Vec::new(),
        }
        vec![self.relay(log.switch_on)]
    }
}

/// A Homie 4 device `homie/{id}` with a `sensor/temperature` and a settable `relay/on`;
/// its last will sets `$state` to `lost`.
pub fn homie_device(url: &str, id: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("homie/{id}/$state");
    spawn(
        url,
        id,
        text_will(&will, "lost"),
        every,
        Homie {
            id: id.into(),
            curve,
        },
    )
}

struct HomeAssistant {
    id: String,
    curve: Curve,
}

impl HomeAssistant {
    /// `{id}/state`: every entity's value in one JSON payload, as many firmwares do.
    fn state(&self, t: f64, on: bool) -> (String, Vec<u8>, bool) {
        let p = json!({
            "temperature": ((self.curve)(t) * 100.0).round() / 100.0,
            "humidity": 45.04,
            "power": if on { "ON" } else { "OFF" },
        });
        (
            format!("{}/state", self.id),
            p.to_string().into_bytes(),
            false,
        )
    }
}

impl Firmware for HomeAssistant {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let id = &self.id;
        // Abbreviated keys and the `~` base topic, as compact firmware writes them.
        let device = json!({"ids": [format!("{id}-0001")], "name": id, "mdl": "Emulated plug"});
        let config = |component: &str, object: &str, entity: serde_json::Value| {
            let mut doc = json!({
                "~": id,
                "uniq_id": format!("{id}-{object}"),
                "stat_t": "~/state",
                "avty_t": "~/status",
                "dev": device,
            });
            if let (Some(d), serde_json::Value::Object(e)) = (doc.as_object_mut(), entity) {
                d.extend(e);
            }
            (
                format!("homeassistant/{component}/{id}/{object}/config"),
                doc.to_string().into_bytes(),
                true,
            )
        };
        (
            vec![format!("{id}/relay/set")],
            vec![
                config(
                    "sensor",
                    "temperature",
                    json!({"name": "Temperature", "val_tpl": "{{ value_json.temperature }}", "unit_of_meas": "°C", "dev_cla": "temperature"}),
                ),
                config(
                    "sensor",
                    "humidity",
                    json!({"name": "Humidity", "val_tpl": "{{ value_json['humidity'] | float | round(1) }}", "unit_of_meas": "%", "dev_cla": "humidity"}),
                ),
                config(
                    "switch",
                    "relay",
                    json!({"name": "Power", "val_tpl": "{{ value_json.power }}", "cmd_t": "~/relay/set", "pl_on": "ON", "pl_off": "OFF"}),
                ),
                (format!("{id}/status"), b"online".to_vec(), true),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        vec![self.state(t, log.switch_on)]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], t: f64, log: &mut Log) -> Msgs {
        if topic != format!("{}/relay/set", self.id) {
            return Vec::new();
        }
        // Home Assistant sends exactly payload_on or payload_off.
        match payload {
            b"ON" => log.switch_on = true,
            b"OFF" => log.switch_on = false,
            _ => return Vec::new(),
        }
        vec![self.state(t, log.switch_on)]
    }
}

/// A plug `id` that announces itself by Home Assistant MQTT discovery (retained,
/// abbreviated, with a `~` base topic `{id}`):
/// - `homeassistant/sensor/{id}/temperature/config` and `…/humidity/config`: sensors
///   read from `{id}/state` by `{{ value_json.temperature }}` and
///   `{{ value_json['humidity'] | float | round(1) }}`;
/// - `homeassistant/switch/{id}/relay/config`: a switch `{{ value_json.power }}` commanded
///   on `{id}/relay/set` with `ON`/`OFF`;
/// - all with `{id}/status` as availability topic: `online`, and `offline` by last will.
///
/// Every `every` it publishes `{"temperature":…,"humidity":45.04,"power":"ON"|"OFF"}` on
/// `{id}/state`, and again at once when switched. The device is named `{id}`, with
/// identifier `{id}-0001`.
pub fn homeassistant_device(url: &str, id: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("{id}/status");
    spawn(
        url,
        id,
        text_will(&will, "offline"),
        every,
        HomeAssistant {
            id: id.into(),
            curve,
        },
    )
}

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
                Some(crate::adapter::sparkplug::decode::REBIRTH),
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
                m.name.as_deref() == Some(crate::adapter::sparkplug::decode::REBIRTH)
                    && m.value == Some(MetricValue::Boolean(true))
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
