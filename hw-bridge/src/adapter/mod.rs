//! Adapters: each device convention turned into the same [`Event`]s, and a desired state
//! turned back into the device's own command.
//!
//! A serial device has no adapter of its own here: the session bridges its port into
//! MQTT ([`crate::serial`]), and the generic JSON adapter reads the bridged topics.
//!
//! An adapter does no I/O: [`Adapter::decode`] looks at one message and says what it
//! meant, [`Adapter::command`] says what to publish. Most conventions need no memory of
//! earlier messages; Sparkplug B does (metric aliases, birth/death and message
//! sequences), so `decode` takes the adapter mutably and the Sparkplug one keeps its
//! session inside. No adapter panics or stops on bad input; it answers
//! [`Outcome::Malformed`] with the reason, and the mirror counts it.

mod esphome;
mod homeassistant;
mod homie;
mod json;
pub(crate) use json::NOT_READINGS as JSON_BOOKKEEPING;
pub(crate) mod sparkplug;
mod tasmota;
pub mod template;

use crate::config::AdapterConfig;
use serde_json::Value;

/// What a device said.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A measurement: reading name and value.
    Reading(String, f64),
    /// A state the device reports (a relay's `power`), normalised by [`crate::value`].
    State(String, Value),
    /// The device announced itself online, or its last will said offline.
    Online(bool),
    /// The message's sequence number, when the firmware counts its messages.
    Seq(u64),
    /// Messages the device sent that never arrived, counted by the adapter itself (a
    /// Sparkplug node's `seq` wraps at 256 and is shared by its devices, so gaps in it
    /// are seen by the adapter, not by the mirror).
    Lost(u64),
    /// Something the protocol wants sent to the device now (a Sparkplug host asks a
    /// node it joined late to announce its metrics again).
    Send(Command),
}

/// An adapter's verdict on one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not from this device (another device on a shared topic, an echo of a command).
    NotMine,
    /// What it said (possibly nothing of interest: an empty list).
    Events(Vec<Event>),
    /// From this device, but unreadable: why.
    Malformed(String),
}

/// A command to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
}

/// One device's adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    cfg: AdapterConfig,
    /// Topic filters it reads, worked out once: every message is matched against them.
    filters: Vec<String>,
    /// What a Sparkplug edge node's messages taught so far (aliases, bdSeq, seq); left
    /// empty by the other adapters, which read each message on its own.
    sparkplug: sparkplug::Session,
}

impl Adapter {
    /// The adapter for a device's configuration.
    pub fn new(cfg: AdapterConfig) -> Adapter {
        let filters = match &cfg {
            AdapterConfig::Json(j) => json::filters(j),
            AdapterConfig::Tasmota { topic } => tasmota::filters(topic),
            AdapterConfig::Esphome { node, .. } => esphome::filters(node),
            AdapterConfig::Homie {
                base, device_id, ..
            } => homie::filters(base, device_id),
            AdapterConfig::Sparkplug(s) => sparkplug::filters(s),
            AdapterConfig::HomeAssistant(h) => homeassistant::filters(h),
            // The session republishes the port's lines on MQTT: read them as JSON.
            AdapterConfig::Serial(s) => json::filters(&s.json),
        };
        Adapter {
            cfg,
            filters,
            sparkplug: sparkplug::Session::default(),
        }
    }

    /// Its name in configs and reports.
    pub fn name(&self) -> &'static str {
        match self.cfg {
            AdapterConfig::Json(_) => "json",
            AdapterConfig::Tasmota { .. } => "tasmota",
            AdapterConfig::Esphome { .. } => "esphome",
            AdapterConfig::Homie { .. } => "homie",
            AdapterConfig::Sparkplug(_) => "sparkplug",
            AdapterConfig::HomeAssistant(_) => "homeassistant",
            AdapterConfig::Serial(_) => "serial",
        }
    }

    /// Topic filters to subscribe to.
    pub fn filters(&self) -> &[String] {
        &self.filters
    }

    /// Whether a topic is one of this device's.
    pub fn wants(&self, topic: &str) -> bool {
        self.filters.iter().any(|f| rumqttc::matches(topic, f))
    }

    /// Decode one message on one of [`Adapter::filters`]. `max_payload` bytes at most
    /// are parsed; a longer payload is malformed. Messages reach it in the order they
    /// arrived: a Sparkplug adapter learns from each one.
    pub fn decode(&mut self, topic: &str, payload: &[u8], max_payload: usize) -> Outcome {
        if !self.wants(topic) {
            return Outcome::NotMine;
        }
        if payload.len() > max_payload {
            return Outcome::Malformed(format!(
                "payload of {} bytes is over the {max_payload}-byte limit",
                payload.len()
            ));
        }
        match &self.cfg {
            AdapterConfig::Json(j) => json::decode(j, topic, payload),
            AdapterConfig::Tasmota { topic: t } => tasmota::decode(t, topic, payload),
            AdapterConfig::Esphome { node, readings } => {
                esphome::decode(node, readings, topic, payload)
            }
            AdapterConfig::Homie {
                base,
                device_id,
                names,
            } => homie::decode(base, device_id, names, topic, payload),
            AdapterConfig::Sparkplug(s) => {
                sparkplug::decode(s, &mut self.sparkplug, topic, payload)
            }
            AdapterConfig::HomeAssistant(h) => homeassistant::decode(h, topic, payload),
            AdapterConfig::Serial(s) => json::decode(&s.json, topic, payload),
        }
    }

    /// The native command that sets `key` to `value`.
    pub fn command(&self, key: &str, value: &Value) -> Result<Command, String> {
        match &self.cfg {
            AdapterConfig::Json(j) => json::command(j, key, value),
            AdapterConfig::Tasmota { topic } => Ok(tasmota::command(topic, key, value)),
            AdapterConfig::Esphome { node, .. } => Ok(esphome::command(node, key, value)),
            AdapterConfig::Homie {
                base,
                device_id,
                names,
            } => homie::command(base, device_id, names, key, value),
            AdapterConfig::Sparkplug(s) => sparkplug::command(s, &self.sparkplug, key, value),
            AdapterConfig::HomeAssistant(h) => homeassistant::command(h, key, value),
            AdapterConfig::Serial(s) => json::command(&s.json, key, value),
        }
    }
}

/// A payload as UTF-8 text, or the reason it is not.
fn text(payload: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(payload).map_err(|e| format!("not UTF-8 text ({e})"))
}

/// `ON`/`OFF`/`TOGGLE` for a switch command.
fn switch_word(value: &Value) -> String {
    match crate::value::normalise(value) {
        Value::Bool(true) => "ON".into(),
        Value::Bool(false) => "OFF".into(),
        Value::Number(n) if n.as_f64() == Some(1.0) => "ON".into(),
        Value::Number(n) if n.as_f64() == Some(0.0) => "OFF".into(),
        Value::String(s) => s.to_ascii_uppercase(),
        other => other.to_string(),
    }
}

/// A value as command text: switch words for booleans, numbers and strings as written.
fn value_text(value: &Value) -> String {
    match value {
        Value::Bool(_) => switch_word(value),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `online`/`offline` in the spellings firmware uses.
fn online_word(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "online" | "on" | "true" | "1" | "connected" | "ready" => Some(true),
        "offline" | "off" | "false" | "0" | "disconnected" | "lost" => Some(false),
        _ => None,
    }
}
