//! `twin mirror` configuration: which physical devices to mirror, how each one speaks
//! (its adapter), and the twin each one is bound to. TOML, every key checked, every error
//! with its file, line and column. `hw-bridge/README.md` documents each key.

mod homeassistant;

use crate::error::BridgeError;
pub use homeassistant::{
    DEFAULT_AVAILABLE, DEFAULT_NOT_AVAILABLE, DEFAULT_OFF, DEFAULT_ON, HaComponent, HaEntity,
    HomeAssistantConfig, valid_name as valid_entity_name,
};
use scenarios::{Dur, Located, ModelKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// A checked mirror configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MirrorConfig {
    /// Fleet name in the shadow topics `twin/{fleet}/{device}/shadow...`.
    pub fleet: String,
    /// Broker the devices publish to, when the file names one.
    pub broker: Option<String>,
    /// Seconds of silence after which a device is marked offline.
    pub stale_after: f64,
    /// Seconds a device has to confirm a desired state before an alert.
    pub confirm_timeout: f64,
    /// Payloads longer than this many bytes are counted as malformed, not parsed.
    pub max_payload: usize,
    /// The devices, in file order.
    pub devices: Vec<DeviceConfig>,
}

/// One mirrored device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// Id in reports and shadow topics.
    pub id: String,
    /// Model whose readings the analytics watch; guessed from the first readings if unset.
    pub model: Option<ModelKind>,
    /// How often the device is expected to publish, seconds (for staleness alerts).
    pub publish_every: f64,
    /// How the device speaks.
    pub adapter: AdapterConfig,
    /// The twin it is compared with.
    pub twin: Option<TwinConfig>,
}

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

/// The serial adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialConfig {
    /// The serial device, like `/dev/ttyUSB0`.
    pub port: String,
    /// Its baud rate (default 115 200).
    pub baud: u32,
    /// How the mirror reads the bridged lines: the generic JSON adapter on the serial
    /// topics, with the device's `readings` and `state` pointers.
    pub json: JsonConfig,
}

/// Baud rate of a serial device that names none.
pub const DEFAULT_BAUD: u32 = 115_200;

/// The Sparkplug B adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkplugConfig {
    /// The Sparkplug group id.
    pub group: String,
    /// The edge node id.
    pub edge_node: String,
    /// The device behind the edge node; `None` mirrors the edge node's own metrics.
    pub device: Option<String>,
    /// Reading name → Sparkplug metric name; with `state`, empty: every numeric metric
    /// as a reading, under its name lower-cased with '/' and spaces as '_'.
    pub readings: BTreeMap<String, String>,
    /// State name → Sparkplug metric name; with `readings`, empty: every boolean or
    /// string metric as a state, named as above.
    pub state: BTreeMap<String, String>,
}

/// The generic JSON adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonConfig {
    /// Topic (or filter with `+`) the telemetry arrives on.
    pub topic: String,
    /// JSON pointer to the device id inside the payload, for topics several devices share.
    pub id_pointer: Option<String>,
    /// The id the payload carries at `id_pointer` (default: the device id).
    pub source_id: String,
    /// Reading name → JSON pointer; empty: every top-level number.
    pub readings: BTreeMap<String, String>,
    /// Reported state key → JSON pointer (a relay's `/relay`).
    pub state: BTreeMap<String, String>,
    /// Where `online`/`offline` (last will) arrives.
    pub status_topic: Option<String>,
    /// Where commands `{"set":{key:value}}` go.
    pub command_topic: Option<String>,
}

/// A twin bound to a device: a room with a first-order thermal model, heated by another
/// device's switch, whose noise-free temperature the device's reading is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinConfig {
    /// The reading compared with the prediction (default `temperature`).
    pub reading: String,
    /// Room temperature at start, °C; default: the device's first reading.
    pub initial: Option<f64>,
    /// Outdoor temperature the room relaxes toward, °C (default 15).
    pub outdoor: f64,
    /// Thermal time constant, seconds (default 1 h).
    pub time_constant: f64,
    /// Warming per kW of heating, °C per hour (default 4).
    pub heater_gain: f64,
    /// The switch that heats the room: (device id, state key), from `"plug.power"`.
    pub heater: Option<(String, String)>,
    /// Heating power while that switch is on, kW (default 1).
    pub heater_kw: f64,
    /// |reading − prediction| beyond this is a disagreement, in the reading's units
    /// (default 2, four times the DHT22's ±0.5 °C).
    pub tolerance: f64,
    /// Consecutive readings beyond (or back within) the tolerance that open (or close) a
    /// divergence alert (default 3).
    pub confirm: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    mirror: RawMirror,
    #[serde(default)]
    device: Vec<Spanned<RawDevice>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMirror {
    fleet: Option<String>,
    broker: Option<Spanned<String>>,
    stale_after: Option<Spanned<Dur>>,
    confirm_timeout: Option<Spanned<Dur>>,
    max_payload: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    id: Spanned<String>,
    adapter: Spanned<String>,
    model: Option<Spanned<String>>,
    publish_every: Option<Spanned<Dur>>,
    topic: Option<Spanned<String>>,
    node: Option<Spanned<String>>,
    base: Option<Spanned<String>>,
    device_id: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    edge_node: Option<Spanned<String>>,
    device: Option<Spanned<String>>,
    id_pointer: Option<Spanned<String>>,
    source_id: Option<String>,
    readings: Option<Spanned<BTreeMap<String, String>>>,
    state: Option<Spanned<BTreeMap<String, String>>>,
    status_topic: Option<Spanned<String>>,
    command_topic: Option<Spanned<String>>,
    availability_topic: Option<Spanned<String>>,
    payload_available: Option<Spanned<String>>,
    payload_not_available: Option<Spanned<String>>,
    entities: Option<Spanned<Vec<Spanned<homeassistant::RawEntity>>>>,
    port: Option<Spanned<String>>,
    baud: Option<Spanned<u32>>,
    twin: Option<Spanned<RawTwin>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTwin {
    reading: Option<String>,
    initial: Option<f64>,
    outdoor: Option<f64>,
    time_constant: Option<Dur>,
    heater_gain: Option<f64>,
    heater: Option<Spanned<String>>,
    heater_kw: Option<f64>,
    tolerance: Option<f64>,
    confirm: Option<usize>,
}

/// The adapters `adapter = "..."` accepts.
pub const ADAPTERS: &[&str] = &[
    "json",
    "tasmota",
    "esphome",
    "homie",
    "sparkplug",
    "homeassistant",
    "serial",
];

impl MirrorConfig {
    /// Read and check a configuration file.
    pub fn load(path: &std::path::Path) -> Result<MirrorConfig, BridgeError> {
        let src = std::fs::read_to_string(path).map_err(|source| BridgeError::Read {
            path: path.display().to_string(),
            source,
        })?;
        MirrorConfig::parse(&src, &path.display().to_string())
    }

    /// Check configuration text; `file` names it in error messages.
    pub fn parse(src: &str, file: &str) -> Result<MirrorConfig, BridgeError> {
        let at = |span: Range<usize>, msg: String| {
            BridgeError::Config(Located::at(file, src, span, msg))
        };
        let raw: RawConfig = toml::from_str(src)
            .map_err(|e| at(e.span().unwrap_or(0..0), e.message().trim_end().to_string()))?;
        let m = raw.mirror;
        if let Some(b) = &m.broker {
            scenarios::BrokerUrl::parse(b.get_ref()).map_err(|e| at(b.span(), e.to_string()))?;
        }
        let positive = |d: &Option<Spanned<Dur>>, default: f64, key: &str| match d {
            Some(s) if s.get_ref().secs() <= 0.0 => {
                Err(at(s.span(), format!("{key} must be longer than zero")))
            }
            Some(s) => Ok(s.get_ref().secs()),
            None => Ok(default),
        };
        let stale_after = positive(&m.stale_after, 60.0, "stale_after")?;
        let confirm_timeout = positive(&m.confirm_timeout, 10.0, "confirm_timeout")?;
        let fleet = m.fleet.unwrap_or_else(|| "mirror".into());
        if fleet.is_empty() || fleet.contains(['/', '+', '#']) {
            return Err(at(
                0..0,
                format!("[mirror] fleet \"{fleet}\" must be non-empty, without '/', '+' or '#'"),
            ));
        }
        let mut devices: Vec<DeviceConfig> = Vec::with_capacity(raw.device.len());
        for d in &raw.device {
            let d = d.get_ref();
            let id = d.id.get_ref().clone();
            if id.is_empty() || id.contains(['/', '+', '#']) {
                return Err(at(
                    d.id.span(),
                    format!("device id \"{id}\" must be non-empty, without '/', '+' or '#'"),
                ));
            }
            if devices.iter().any(|e| e.id == id) {
                return Err(at(d.id.span(), format!("device id \"{id}\" is used twice")));
            }
            let model = match &d.model {
                Some(m) => Some(ModelKind::from_name(m.get_ref()).ok_or_else(|| {
                    at(
                        m.span(),
                        format!(
                            "unknown model \"{}\"; expected one of {}",
                            m.get_ref(),
                            ModelKind::valid_names()
                        ),
                    )
                })?),
                None => None,
            };
            let publish_every = positive(&d.publish_every, 60.0, "publish_every")?;
            let adapter = adapter(d, &id, &fleet, &at)?;
            if let AdapterConfig::Serial(s) = &adapter
                && devices
                    .iter()
                    .any(|e| matches!(&e.adapter, AdapterConfig::Serial(o) if o.port == s.port))
            {
                return Err(at(
                    d.port.as_ref().map_or(0..0, Spanned::span),
                    format!("serial port \"{}\" is used by two devices", s.port),
                ));
            }
            devices.push(DeviceConfig {
                id,
                model,
                publish_every,
                adapter,
                twin: None,
            });
        }
        // Twins second: a heater may be a device listed further down.
        for (i, d) in raw.device.iter().enumerate() {
            if let Some(t) = &d.get_ref().twin {
                devices[i].twin = Some(twin(t, &devices, &at)?);
            }
        }
        Ok(MirrorConfig {
            fleet,
            broker: m.broker.map(|b| b.into_inner()),
            stale_after,
            confirm_timeout,
            max_payload: m.max_payload.unwrap_or(64 * 1024),
            devices,
        })
    }

    /// The device with this id.
    pub fn device(&self, id: &str) -> Option<&DeviceConfig> {
        self.devices.iter().find(|d| d.id == id)
    }
}

type At<'a> = dyn Fn(Range<usize>, String) -> BridgeError + 'a;

fn adapter(
    d: &RawDevice,
    id: &str,
    fleet: &str,
    at: &At<'_>,
) -> Result<AdapterConfig, BridgeError> {
    // Keys that belong to one adapter only, so a typo'd adapter is not silently ignored.
    let only =
        |key: &str, span: Option<Range<usize>>, allowed: &[&str]| -> Result<(), BridgeError> {
            match span {
                Some(s) if !allowed.contains(&d.adapter.get_ref().as_str()) => Err(at(
                    s,
                    format!(
                        "`{key}` is not a setting of adapter \"{}\" (it is for {})",
                        d.adapter.get_ref(),
                        allowed.join(", ")
                    ),
                )),
                _ => Ok(()),
            }
        };
    only(
        "topic",
        d.topic.as_ref().map(Spanned::span),
        &["json", "tasmota"],
    )?;
    only("node", d.node.as_ref().map(Spanned::span), &["esphome"])?;
    only(
        "id_pointer",
        d.id_pointer.as_ref().map(Spanned::span),
        &["json"],
    )?;
    only(
        "state",
        d.state.as_ref().map(Spanned::span),
        &["json", "homie", "sparkplug", "serial"],
    )?;
    only("base", d.base.as_ref().map(Spanned::span), &["homie"])?;
    only(
        "device_id",
        d.device_id.as_ref().map(Spanned::span),
        &["homie"],
    )?;
    only(
        "status_topic",
        d.status_topic.as_ref().map(Spanned::span),
        &["json"],
    )?;
    only(
        "command_topic",
        d.command_topic.as_ref().map(Spanned::span),
        &["json"],
    )?;
    only(
        "readings",
        d.readings.as_ref().map(Spanned::span),
        &["json", "esphome", "homie", "sparkplug", "serial"],
    )?;
    for (key, v) in [
        ("group", &d.group),
        ("edge_node", &d.edge_node),
        ("device", &d.device),
    ] {
        only(key, v.as_ref().map(Spanned::span), &["sparkplug"])?;
    }
    for (key, v) in [
        ("availability_topic", &d.availability_topic),
        ("payload_available", &d.payload_available),
        ("payload_not_available", &d.payload_not_available),
    ] {
        only(key, v.as_ref().map(Spanned::span), &["homeassistant"])?;
    }
    only(
        "entities",
        d.entities.as_ref().map(Spanned::span),
        &["homeassistant"],
    )?;
    only("port", d.port.as_ref().map(Spanned::span), &["serial"])?;
    only("baud", d.baud.as_ref().map(Spanned::span), &["serial"])?;
    let need = |v: &Option<Spanned<String>>, key: &str| -> Result<String, BridgeError> {
        match v {
            Some(s) if s.get_ref().is_empty() => Err(at(s.span(), format!("`{key}` is empty"))),
            Some(s) => Ok(s.get_ref().clone()),
            None => Err(at(
                d.adapter.span(),
                format!("adapter \"{}\" needs `{key}`", d.adapter.get_ref()),
            )),
        }
    };
    let pointers = |m: &Option<Spanned<BTreeMap<String, String>>>| -> Result<BTreeMap<String, String>, BridgeError> {
        let Some(m) = m else { return Ok(BTreeMap::new()) };
        for (k, p) in m.get_ref() {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(at(
                    m.span(),
                    format!("`{k} = \"{p}\"`: a JSON pointer starts with '/' (or is \"\" for the whole payload)"),
                ));
            }
        }
        Ok(m.get_ref().clone())
    };
    let filter = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, BridgeError> {
        match v {
            Some(s) if !valid_filter(s.get_ref()) => Err(at(
                s.span(),
                format!(
                    "`{key}` \"{}\" is not a valid MQTT topic filter",
                    s.get_ref()
                ),
            )),
            Some(s) => Ok(Some(s.get_ref().clone())),
            None => Ok(None),
        }
    };
    let plain = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, BridgeError> {
        match v {
            Some(s) if s.get_ref().contains(['+', '#']) => Err(at(
                s.span(),
                format!("`{key}` is a topic to publish to; it cannot hold '+' or '#'"),
            )),
            _ => Ok(v.as_ref().map(|s| s.get_ref().clone())),
        }
    };
    match d.adapter.get_ref().as_str() {
        "json" => {
            let topic = need(&d.topic, "topic")?;
            filter(&d.topic, "topic")?;
            if let Some(p) = &d.id_pointer
                && !p.get_ref().starts_with('/')
            {
                return Err(at(
                    p.span(),
                    "`id_pointer` is a JSON pointer and starts with '/'".into(),
                ));
            }
            Ok(AdapterConfig::Json(JsonConfig {
                topic,
                id_pointer: d.id_pointer.as_ref().map(|p| p.get_ref().clone()),
                source_id: d.source_id.clone().unwrap_or_else(|| id.to_string()),
                readings: pointers(&d.readings)?,
                state: pointers(&d.state)?,
                status_topic: filter(&d.status_topic, "status_topic")?,
                command_topic: plain(&d.command_topic, "command_topic")?,
            }))
        }
        "tasmota" => {
            let topic = need(&d.topic, "topic")?;
            if topic.contains(['/', '+', '#']) {
                return Err(at(
                    d.topic.as_ref().map_or(0..0, Spanned::span),
                    format!(
                        "tasmota `topic` is the device's %topic% (like \"tasmota_5C1A2B\"), not a path: \"{topic}\""
                    ),
                ));
            }
            Ok(AdapterConfig::Tasmota { topic })
        }
        "esphome" => {
            let node = need(&d.node, "node")?;
            if node.contains(['+', '#']) {
                return Err(at(
                    d.node.as_ref().map_or(0..0, Spanned::span),
                    "esphome `node` is a topic prefix; it cannot hold '+' or '#'".into(),
                ));
            }
            Ok(AdapterConfig::Esphome {
                node,
                readings: d
                    .readings
                    .as_ref()
                    .map(|r| r.get_ref().clone())
                    .unwrap_or_default(),
            })
        }
        "homie" => {
            let device_id = need(&d.device_id, "device_id")?;
            let id_span = d.device_id.as_ref().map_or(0..0, Spanned::span);
            if !homie_id(&device_id) {
                return Err(at(
                    id_span,
                    format!(
                        "homie `device_id` \"{device_id}\" must be lower-case letters, digits and hyphens"
                    ),
                ));
            }
            let base = d
                .base
                .as_ref()
                .map_or_else(|| "homie".to_string(), |b| b.get_ref().clone());
            if base.is_empty() || base.contains(['+', '#']) {
                return Err(at(
                    d.base.as_ref().map_or(0..0, Spanned::span),
                    format!(
                        "homie `base` \"{base}\" is not a topic prefix (\"homie\", or \"homie/5\" for Homie 5)"
                    ),
                ));
            }
            let mut names = BTreeMap::new();
            for m in [&d.readings, &d.state].into_iter().flatten() {
                for (k, p) in m.get_ref() {
                    match p.split_once('/') {
                        Some((n, q)) if homie_id(n) && homie_id(q) => {
                            names.insert(k.clone(), p.clone());
                        }
                        _ => {
                            return Err(at(
                                m.span(),
                                format!("`{k} = \"{p}\"`: a Homie property is \"node/property\""),
                            ));
                        }
                    }
                }
            }
            Ok(AdapterConfig::Homie {
                base,
                device_id,
                names,
            })
        }
        "sparkplug" => {
            // Sparkplug ids are single topic levels: no '/', '+' or '#' (spec 3.0, 4.1.1).
            let level = |v: &Option<Spanned<String>>, key: &str| -> Result<(), BridgeError> {
                match v {
                    Some(s) if s.get_ref().contains(['/', '+', '#']) => Err(at(
                        s.span(),
                        format!(
                            "sparkplug `{key}` \"{}\" is one topic level: no '/', '+' or '#'",
                            s.get_ref()
                        ),
                    )),
                    _ => Ok(()),
                }
            };
            let group = need(&d.group, "group")?;
            level(&d.group, "group")?;
            let edge_node = need(&d.edge_node, "edge_node")?;
            level(&d.edge_node, "edge_node")?;
            let device = match &d.device {
                Some(_) => Some(need(&d.device, "device")?),
                None => None,
            };
            level(&d.device, "device")?;
            let metrics = |m: &Option<Spanned<BTreeMap<String, String>>>| -> Result<BTreeMap<String, String>, BridgeError> {
                let Some(m) = m else { return Ok(BTreeMap::new()) };
                match m.get_ref().iter().find(|(_, metric)| metric.is_empty()) {
                    Some((k, _)) => Err(at(
                        m.span(),
                        format!("`{k} = \"\"`: name the Sparkplug metric, like \"Inputs/Temperature\""),
                    )),
                    None => Ok(m.get_ref().clone()),
                }
            };
            let readings = metrics(&d.readings)?;
            let state = metrics(&d.state)?;
            if let Some(k) = readings.keys().find(|k| state.contains_key(*k)) {
                return Err(at(
                    d.state.as_ref().map_or(0..0, Spanned::span),
                    format!("`{k}` is named in both `readings` and `state`"),
                ));
            }
            Ok(AdapterConfig::Sparkplug(SparkplugConfig {
                group,
                edge_node,
                device,
                readings,
                state,
            }))
        }
        "homeassistant" => Ok(AdapterConfig::HomeAssistant(homeassistant::parse(d, at)?)),
        "serial" => {
            let port = need(&d.port, "port")?;
            let baud = match &d.baud {
                Some(b) if *b.get_ref() == 0 => {
                    return Err(at(b.span(), "`baud` must be greater than zero".into()));
                }
                Some(b) => *b.get_ref(),
                None => DEFAULT_BAUD,
            };
            let topics = crate::serial::Topics::new(fleet, id);
            Ok(AdapterConfig::Serial(SerialConfig {
                port,
                baud,
                json: JsonConfig {
                    topic: topics.telemetry,
                    id_pointer: None,
                    source_id: id.to_string(),
                    readings: pointers(&d.readings)?,
                    state: pointers(&d.state)?,
                    status_topic: Some(topics.status),
                    command_topic: Some(topics.cmd),
                },
            }))
        }
        other => Err(at(
            d.adapter.span(),
            format!(
                "unknown adapter \"{other}\"; expected one of {}",
                ADAPTERS.join(", ")
            ),
        )),
    }
}

fn twin(
    t: &Spanned<RawTwin>,
    devices: &[DeviceConfig],
    at: &At<'_>,
) -> Result<TwinConfig, BridgeError> {
    let r = t.get_ref();
    let heater = match &r.heater {
        Some(h) => {
            let Some((dev, key)) = h.get_ref().split_once('.') else {
                return Err(at(
                    h.span(),
                    format!(
                        "`heater = \"{}\"` names a device and its switch, like \"plug.power\"",
                        h.get_ref()
                    ),
                ));
            };
            if !devices.iter().any(|d| d.id == dev) {
                return Err(at(
                    h.span(),
                    format!("`heater`: no device \"{dev}\" in this file"),
                ));
            }
            Some((dev.to_string(), key.to_string()))
        }
        None => None,
    };
    let time_constant = r.time_constant.map_or(3600.0, Dur::secs);
    let tolerance = r.tolerance.unwrap_or(2.0);
    if time_constant <= 0.0 || !tolerance.is_finite() || tolerance <= 0.0 {
        return Err(at(
            t.span(),
            "twin `time_constant` and `tolerance` must be greater than zero".into(),
        ));
    }
    Ok(TwinConfig {
        reading: r.reading.clone().unwrap_or_else(|| "temperature".into()),
        initial: r.initial,
        outdoor: r.outdoor.unwrap_or(15.0),
        time_constant,
        heater_gain: r.heater_gain.unwrap_or(4.0),
        heater,
        heater_kw: r.heater_kw.unwrap_or(1.0),
        tolerance,
        confirm: r.confirm.unwrap_or(3).max(1),
    })
}

/// A Homie id: lower-case letters, digits and hyphens, not starting with a hyphen.
fn homie_id(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Whether `f` is a valid MQTT topic filter: `#` only as a whole last level, `+` only as
/// a whole level.
pub fn valid_filter(f: &str) -> bool {
    if f.is_empty() {
        return false;
    }
    let levels: Vec<&str> = f.split('/').collect();
    levels.iter().enumerate().all(|(i, l)| match *l {
        "#" => i == levels.len() - 1,
        "+" => true,
        l => !l.contains(['+', '#']),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[mirror]
fleet = "home"
stale_after = "30s"

[[device]]
id = "plug"
adapter = "tasmota"
topic = "tasmota_5C1A2B"
model = "dht22"

[[device]]
id = "pico-1"
adapter = "json"
topic = "sensors/pico-1/telemetry"
status_topic = "sensors/pico-1/status"
command_topic = "sensors/pico-1/cmd"
readings = { temperature = "/temperature" }
state = { relay = "/relay" }

[device.twin]
heater = "plug.power"
heater_kw = 2.0

[[device]]
id = "kitchen"
adapter = "esphome"
node = "kitchen-node"
"#;

    fn err(src: &str) -> String {
        match MirrorConfig::parse(src, "m.toml") {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    #[test]
    fn a_full_config_parses() {
        let c = MirrorConfig::parse(GOOD, "m.toml").expect("valid");
        assert_eq!(c.fleet, "home");
        assert_eq!(c.stale_after, 30.0);
        assert_eq!(c.devices.len(), 3);
        assert_eq!(c.devices[0].model, Some(ModelKind::Dht22));
        let twin = c.devices[1].twin.as_ref().expect("twin");
        assert_eq!(twin.heater, Some(("plug".into(), "power".into())));
        assert_eq!(twin.heater_kw, 2.0);
        assert_eq!(twin.reading, "temperature");
        match &c.devices[1].adapter {
            AdapterConfig::Json(j) => {
                assert_eq!(j.source_id, "pico-1");
                assert_eq!(j.state.get("relay").map(String::as_str), Some("/relay"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_point_at_the_line() {
        let e = err("[[device]]\nid = \"a\"\nadapter = \"zigbee\"\n");
        assert!(
            e.contains("m.toml:3:11") && e.contains("unknown adapter"),
            "{e}"
        );
        let e = err("[[device]]\nid = \"a\"\nadapter = \"json\"\n");
        assert!(e.contains("needs `topic`"), "{e}");
        let e = err("[[device]]\nid = \"a\"\nadapter = \"esphome\"\nnode = \"n\"\ntopic = \"x\"\n");
        assert!(
            e.contains("m.toml:5:9") && e.contains("not a setting of adapter"),
            "{e}"
        );
        let e = err("[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"t\"\ncolour = 1\n");
        assert!(
            e.contains("m.toml:5:1") && e.contains("unknown field"),
            "{e}"
        );
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"t\"\n[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"u\"\n",
        );
        assert!(e.contains("m.toml:6:6") && e.contains("used twice"), "{e}");
        let e = err("[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"a/#/b\"\n");
        assert!(e.contains("not a valid MQTT topic filter"), "{e}");
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"t\"\nreadings = { t = \"temperature\" }\n",
        );
        assert!(e.contains("JSON pointer"), "{e}");
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"t\"\n[device.twin]\nheater = \"plug.power\"\n",
        );
        assert!(
            e.contains("m.toml:6:10") && e.contains("no device \"plug\""),
            "{e}"
        );
        let e = err("[mirror]\nbroker = \"http://x\"\n");
        assert!(e.contains("m.toml:2:10"), "{e}");
        let e = err("[mirror]\nstale_after = \"0s\"\n");
        assert!(e.contains("longer than zero"), "{e}");
    }

    #[test]
    fn the_example_config_parses() {
        let src = include_str!("../examples/mirror.toml");
        let c = MirrorConfig::parse(src, "examples/mirror.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.devices.len(), 3);
        assert_eq!(c.stale_after, 120.0);
        let twin = c.devices[1].twin.as_ref().expect("pico-1 has a twin");
        assert_eq!(twin.time_constant, 3.0 * 3600.0);
        assert_eq!(twin.heater, Some(("plug".into(), "power".into())));
    }

    #[test]
    fn sparkplug_devices_parse_and_their_mistakes_point_at_the_line() {
        let c = MirrorConfig::parse(
            "[[device]]\nid = \"press\"\nadapter = \"sparkplug\"\ngroup = \"plant\"\nedge_node = \"gw-1\"\ndevice = \"press-3\"\nreadings = { temperature = \"Inputs/Temperature\" }\nstate = { running = \"Running\" }\n\n[[device]]\nid = \"gw\"\nadapter = \"sparkplug\"\ngroup = \"plant\"\nedge_node = \"gw-1\"\n",
            "m.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        match (&c.devices[0].adapter, &c.devices[1].adapter) {
            (AdapterConfig::Sparkplug(press), AdapterConfig::Sparkplug(gw)) => {
                assert_eq!(
                    (press.group.as_str(), press.edge_node.as_str()),
                    ("plant", "gw-1")
                );
                assert_eq!(press.device.as_deref(), Some("press-3"));
                assert_eq!(
                    press.readings.get("temperature").map(String::as_str),
                    Some("Inputs/Temperature")
                );
                assert_eq!(
                    press.state.get("running").map(String::as_str),
                    Some("Running")
                );
                assert_eq!(gw.device, None);
                assert!(gw.readings.is_empty() && gw.state.is_empty());
            }
            other => panic!("{other:?}"),
        }

        let sp = "[[device]]\nid = \"a\"\nadapter = \"sparkplug\"\n";
        let e = err(&format!("{sp}edge_node = \"gw-1\"\n"));
        assert!(
            e.contains("m.toml:3:11") && e.contains("needs `group`"),
            "{e}"
        );
        let e = err(&format!("{sp}group = \"plant\"\n"));
        assert!(e.contains("needs `edge_node`"), "{e}");
        let e = err(&format!(
            "{sp}group = \"plant/north\"\nedge_node = \"gw-1\"\n"
        ));
        assert!(
            e.contains("m.toml:4:9") && e.contains("one topic level"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\ndevice = \"+\"\n"
        ));
        assert!(
            e.contains("m.toml:6:10") && e.contains("one topic level"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\ndevice = \"\"\n"
        ));
        assert!(e.contains("m.toml:6:10") && e.contains("is empty"), "{e}");
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\ntopic = \"x\"\n"
        ));
        assert!(
            e.contains("m.toml:6:9") && e.contains("not a setting of adapter \"sparkplug\""),
            "{e}"
        );
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"t\"\nedge_node = \"gw-1\"\n",
        );
        assert!(
            e.contains("m.toml:5:13") && e.contains("(it is for sparkplug)"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\nreadings = {{ t = \"\" }}\n"
        ));
        assert!(
            e.contains("m.toml:6:12") && e.contains("name the Sparkplug metric"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\nreadings = {{ t = \"T\" }}\nstate = {{ t = \"S\" }}\n"
        ));
        assert!(
            e.contains("m.toml:7:9") && e.contains("both `readings` and `state`"),
            "{e}"
        );
    }

    #[test]
    fn serial_devices_parse_and_their_mistakes_point_at_the_line() {
        let c = MirrorConfig::parse(
            "[mirror]\nfleet = \"home\"\n\n[[device]]\nid = \"bench\"\nadapter = \"serial\"\nport = \"/dev/ttyUSB0\"\nreadings = { temperature = \"/t\" }\nstate = { relay = \"/relay\" }\n\n[[device]]\nid = \"desk\"\nadapter = \"serial\"\nport = \"/dev/ttyACM0\"\nbaud = 9600\n",
            "m.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (AdapterConfig::Serial(bench), AdapterConfig::Serial(desk)) =
            (&c.devices[0].adapter, &c.devices[1].adapter)
        else {
            panic!("{c:?}")
        };
        assert_eq!((bench.port.as_str(), bench.baud), ("/dev/ttyUSB0", 115_200));
        assert_eq!((desk.port.as_str(), desk.baud), ("/dev/ttyACM0", 9600));
        // The mirror reads the bridged lines as a JSON device on the serial topics.
        assert_eq!(bench.json.topic, "twin/home/bench/serial/telemetry");
        assert_eq!(
            bench.json.status_topic.as_deref(),
            Some("twin/home/bench/serial/status")
        );
        assert_eq!(
            bench.json.command_topic.as_deref(),
            Some("twin/home/bench/serial/cmd")
        );
        assert_eq!(
            bench.json.readings.get("temperature").map(String::as_str),
            Some("/t")
        );
        assert_eq!(
            bench.json.state.get("relay").map(String::as_str),
            Some("/relay")
        );
        assert!(desk.json.readings.is_empty() && desk.json.id_pointer.is_none());

        let sd = "[[device]]\nid = \"a\"\nadapter = \"serial\"\n";
        let e = err(sd);
        assert!(
            e.contains("m.toml:3:11") && e.contains("needs `port`"),
            "{e}"
        );
        let e = err(&format!("{sd}port = \"\"\n"));
        assert!(e.contains("m.toml:4:8") && e.contains("is empty"), "{e}");
        let e = err(&format!("{sd}port = \"/dev/ttyUSB0\"\nbaud = 0\n"));
        assert!(
            e.contains("m.toml:5:8") && e.contains("greater than zero"),
            "{e}"
        );
        let e = err(&format!("{sd}port = \"/dev/ttyUSB0\"\nbaud = -9600\n"));
        assert!(e.contains("m.toml:5:8"), "{e}");
        let e = err(&format!("{sd}port = \"/dev/ttyUSB0\"\nbaud = \"fast\"\n"));
        assert!(e.contains("m.toml:5:8"), "{e}");
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\ntopic = \"sensors/a\"\n"
        ));
        assert!(
            e.contains("m.toml:5:9") && e.contains("not a setting of adapter \"serial\""),
            "{e}"
        );
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\ncommand_topic = \"a/cmd\"\n"
        ));
        assert!(
            e.contains("m.toml:5:17") && e.contains("not a setting of adapter \"serial\""),
            "{e}"
        );
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\nreadings = {{ t = \"temperature\" }}\n"
        ));
        assert!(
            e.contains("m.toml:5:12") && e.contains("JSON pointer"),
            "{e}"
        );
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"t\"\nport = \"/dev/ttyUSB0\"\n",
        );
        assert!(
            e.contains("m.toml:5:8") && e.contains("(it is for serial)"),
            "{e}"
        );
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\n[[device]]\nid = \"b\"\nadapter = \"serial\"\nport = \"/dev/ttyUSB0\"\n"
        ));
        assert!(
            e.contains("m.toml:8:8") && e.contains("used by two devices"),
            "{e}"
        );
    }

    #[test]
    fn filters_are_checked() {
        assert!(valid_filter("a/+/b"));
        assert!(valid_filter("a/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
        assert!(!valid_filter(""));
    }
}
