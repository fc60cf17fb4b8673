//! [`Adapter`]: one device's adapter, handing each message and command to the code of
//! the device's convention (a folder each, beside this file).

use crate::adapter::config::AdapterConfig;
use crate::adapter::esphome::decode as esphome;
use crate::adapter::event::{Command, Outcome};
use crate::adapter::homeassistant::decode as homeassistant;
use crate::adapter::homie::decode as homie;
use crate::adapter::json::decode as json;
use crate::adapter::sparkplug::command as sparkplug_command;
use crate::adapter::sparkplug::decode as sparkplug;
use crate::adapter::sparkplug::session::Session as SparkplugSession;
use crate::adapter::tasmota::decode as tasmota;
use crate::error::BridgeError;
use serde_json::Value;

/// One device's adapter.
#[derive(Debug, Clone, PartialEq)]
pub struct Adapter {
    cfg: AdapterConfig,
    /// Topic filters it reads, worked out once: every message is matched against them.
    filters: Vec<String>,
    /// What a Sparkplug edge node's messages taught so far (aliases, bdSeq, seq); left
    /// empty by the other adapters, which read each message on its own.
    sparkplug: SparkplugSession,
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
            sparkplug: SparkplugSession::default(),
        }
    }

    /// Its name in configs and reports.
    pub fn name(&self) -> &'static str {
        self.cfg.name()
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

    /// The native command that sets `key` to `value`; [`BridgeError::Command`] with the
    /// reason when the convention has none for it. (Each convention gives its reason as
    /// text, like a malformed message's.)
    pub fn command(&self, key: &str, value: &Value) -> Result<Command, BridgeError> {
        let command = match &self.cfg {
            AdapterConfig::Json(j) => json::command(j, key, value),
            AdapterConfig::Tasmota { topic } => Ok(tasmota::command(topic, key, value)),
            AdapterConfig::Esphome { node, .. } => Ok(esphome::command(node, key, value)),
            AdapterConfig::Homie {
                base,
                device_id,
                names,
            } => homie::command(base, device_id, names, key, value),
            AdapterConfig::Sparkplug(s) => {
                sparkplug_command::command(s, &self.sparkplug, key, value)
            }
            AdapterConfig::HomeAssistant(h) => homeassistant::command(h, key, value),
            AdapterConfig::Serial(s) => json::command(&s.json, key, value),
        };
        command.map_err(BridgeError::Command)
    }
}
