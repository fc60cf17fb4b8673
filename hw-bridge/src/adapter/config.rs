//! [`AdapterConfig`]: how a device speaks, and the table of conventions that turns a
//! `[[device]]`'s keys into one.
//!
//! Each convention's folder says which keys it takes (`KEYS`) and checks them (`parse`);
//! [`CONVENTIONS`] lists the folders, and which adapters a key belongs to is read from
//! it, so a new convention is a folder and a row here.

use crate::adapter::esphome::config as esphome;
use crate::adapter::homeassistant::config as homeassistant;
use crate::adapter::homeassistant::entity::HomeAssistantConfig;
use crate::adapter::homie::config as homie;
use crate::adapter::json::config::{self as json, JsonConfig};
use crate::adapter::serial::config::{self as serial, SerialConfig};
use crate::adapter::sparkplug::config::{self as sparkplug, SparkplugConfig};
use crate::adapter::tasmota::config as tasmota;
use crate::config::checks::DeviceCx;
use crate::error::BridgeError;
use std::collections::BTreeMap;

/// The conventions a device follows.
#[derive(Debug, Clone, PartialEq)]
pub enum AdapterConfig {
    /// Flat JSON on a topic of the user's choice (MicroPython `umqtt`, paho scripts).
    Json(JsonConfig),
    /// Tasmota: `tele/{topic}/SENSOR|STATE|LWT`, `stat/{topic}/...`, `cmnd/{topic}/...`.
    Tasmota {
        /// The device's Tasmota topic (`%topic%`).
        topic: String,
    },
    /// ESPHome's MQTT component: `{node}/sensor/{name}/state`, `{node}/status`,
    /// `{node}/switch/{name}/command`.
    Esphome {
        /// Topic prefix, by default the node name.
        node: String,
        /// Reading name → ESPHome sensor object id; empty: every sensor under its own id.
        readings: BTreeMap<String, String>,
    },
    /// Homie 4 or 5: `{base}/{device_id}/$state`, `{base}/{device_id}/{node}/{property}`,
    /// commands on `…/{property}/set`.
    Homie {
        /// `homie` (Homie 4) or `homie/5` (Homie 5).
        base: String,
        /// The Homie device id.
        device_id: String,
        /// Reading or state name → `node/property`; empty: every property as
        /// `{node}_{property}`.
        names: BTreeMap<String, String>,
    },
    /// Sparkplug B: `spBv1.0/{group}/NBIRTH|NDATA|NDEATH/{edge_node}` and
    /// `spBv1.0/{group}/DBIRTH|DDATA|DDEATH/{edge_node}/{device}`, protobuf payloads,
    /// commands as NCMD/DCMD.
    Sparkplug(SparkplugConfig),
    /// Home Assistant MQTT discovery: the entities a device announced under
    /// `homeassistant/.../config`, each read from its `state_topic` through its
    /// `value_template`, switches and numbers commanded on their `command_topic`.
    HomeAssistant(HomeAssistantConfig),
    /// Newline-delimited JSON over a serial port. The session bridges the port into MQTT
    /// (`twin/{fleet}/{device}/serial/telemetry|status|cmd`); the mirror reads those
    /// topics with the generic JSON adapter.
    Serial(SerialConfig),
}

impl AdapterConfig {
    /// Its name in configs (`adapter = "..."`) and reports.
    pub fn name(&self) -> &'static str {
        match self {
            AdapterConfig::Json(_) => "json",
            AdapterConfig::Tasmota { .. } => "tasmota",
            AdapterConfig::Esphome { .. } => "esphome",
            AdapterConfig::Homie { .. } => "homie",
            AdapterConfig::Sparkplug(_) => "sparkplug",
            AdapterConfig::HomeAssistant(_) => "homeassistant",
            AdapterConfig::Serial(_) => "serial",
        }
    }
}

/// One convention as the config sees it.
pub(crate) struct Convention {
    /// `adapter = "..."`.
    pub name: &'static str,
    /// The `[[device]]` keys it takes, from its folder.
    pub keys: &'static [&'static str],
    /// Its folder's checks.
    pub parse: fn(&DeviceCx<'_>) -> Result<AdapterConfig, BridgeError>,
}

/// Every convention, in the order messages list them.
pub(crate) const CONVENTIONS: [Convention; 7] = [
    Convention {
        name: "json",
        keys: json::KEYS,
        parse: |cx| json::parse(cx).map(AdapterConfig::Json),
    },
    Convention {
        name: "tasmota",
        keys: tasmota::KEYS,
        parse: |cx| tasmota::parse(cx).map(|topic| AdapterConfig::Tasmota { topic }),
    },
    Convention {
        name: "esphome",
        keys: esphome::KEYS,
        parse: |cx| {
            esphome::parse(cx).map(|e| AdapterConfig::Esphome {
                node: e.node,
                readings: e.readings,
            })
        },
    },
    Convention {
        name: "homie",
        keys: homie::KEYS,
        parse: |cx| {
            homie::parse(cx).map(|h| AdapterConfig::Homie {
                base: h.base,
                device_id: h.device_id,
                names: h.names,
            })
        },
    },
    Convention {
        name: "sparkplug",
        keys: sparkplug::KEYS,
        parse: |cx| sparkplug::parse(cx).map(AdapterConfig::Sparkplug),
    },
    Convention {
        name: "homeassistant",
        keys: homeassistant::KEYS,
        parse: |cx| homeassistant::parse(cx).map(AdapterConfig::HomeAssistant),
    },
    Convention {
        name: "serial",
        keys: serial::KEYS,
        parse: |cx| serial::parse(cx).map(AdapterConfig::Serial),
    },
];

/// The adapters `adapter = "..."` accepts.
pub const ADAPTERS: &[&str] = &{
    let mut names = [""; CONVENTIONS.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = CONVENTIONS[i].name;
        i += 1;
    }
    names
};

/// Check a device's adapter and its keys: first that every convention-specific key
/// belongs to the device's adapter (so a typo'd adapter is not silently ignored), then
/// the adapter's own checks.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<AdapterConfig, BridgeError> {
    let name = cx.raw.adapter.get_ref().as_str();
    let convention = CONVENTIONS.iter().find(|c| c.name == name);
    for (key, span) in cx.raw.convention_keys() {
        let Some(span) = span else { continue };
        if convention.is_some_and(|c| c.keys.contains(&key)) {
            continue;
        }
        let owners: Vec<&str> = CONVENTIONS
            .iter()
            .filter(|c| c.keys.contains(&key))
            .map(|c| c.name)
            .collect();
        return Err(cx.err(
            span,
            format!(
                "`{key}` is not a setting of adapter \"{name}\" (it is for {})",
                owners.join(", ")
            ),
        ));
    }
    match convention {
        Some(c) => (c.parse)(cx),
        None => Err(cx.err(
            cx.raw.adapter.span(),
            format!(
                "unknown adapter \"{name}\"; expected one of {}",
                ADAPTERS.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_checked_key_belongs_to_a_convention() {
        let raw: crate::config::raw::RawDevice =
            toml::from_str("id = \"a\"\nadapter = \"json\"\n").expect("a minimal device");
        for (key, _) in raw.convention_keys() {
            assert!(
                CONVENTIONS.iter().any(|c| c.keys.contains(&key)),
                "`{key}` belongs to no convention"
            );
        }
    }
}
