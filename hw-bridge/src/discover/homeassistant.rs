//! Home Assistant MQTT discovery, read at discovery time: the retained
//! `homeassistant/{component}/[{node_id}/]{object_id}/config` messages, grouped into
//! devices, written as `adapter = "homeassistant"` entries with their entities.
//!
//! Home Assistant's abbreviations (`stat_t`, `dev`, `ids`, ...) are expanded and the `~`
//! base topic substituted, as Home Assistant does, before anything is read. ESPHome and
//! Tasmota announce themselves this way too; a device whose topics another convention
//! already mirrors is left to it, with a comment, so that one device is not mirrored twice.

use super::{Found, Seen, decode_all, model_line, quote, reading_list, sanitise};
use crate::adapter::Adapter;
use crate::adapter::template::ValueTemplate;
use crate::config::{
    AdapterConfig, DEFAULT_AVAILABLE, DEFAULT_NOT_AVAILABLE, DEFAULT_OFF, DEFAULT_ON, HaComponent,
    HaEntity, HomeAssistantConfig,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Home Assistant's default discovery prefix.
pub const PREFIX: &str = "homeassistant";

/// Abbreviations of the entity keys read here, as Home Assistant defines them.
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("avty", "availability"),
    ("avty_t", "availability_topic"),
    ("cmd_t", "command_topic"),
    ("dev", "device"),
    ("obj_id", "object_id"),
    ("pl_avail", "payload_available"),
    ("pl_not_avail", "payload_not_available"),
    ("pl_off", "payload_off"),
    ("pl_on", "payload_on"),
    ("stat_t", "state_topic"),
    ("uniq_id", "unique_id"),
    ("val_tpl", "value_template"),
];

/// Abbreviations inside `device`.
const DEVICE_ABBREVIATIONS: &[(&str, &str)] = &[
    ("cns", "connections"),
    ("ids", "identifiers"),
    ("mdl", "model"),
    ("mf", "manufacturer"),
];

/// Abbreviations inside an `availability` entry.
const AVAILABILITY_ABBREVIATIONS: &[(&str, &str)] = &[
    ("pl_avail", "payload_available"),
    ("pl_not_avail", "payload_not_available"),
    ("t", "topic"),
    ("val_tpl", "value_template"),
];

/// What Home Assistant discovery found.
pub(super) struct Discovered<'a> {
    /// Devices to mirror.
    pub found: Vec<Found>,
    /// Topics they (or the devices that already mirror them) read.
    pub claimed: Vec<&'a str>,
    /// Comments for what was seen and not mirrored, and why.
    pub notes: Vec<String>,
}

/// One entity's discovery message.
struct Announced {
    /// `homeassistant/.../config`.
    topic: String,
    component: String,
    object_id: String,
    /// Its payload, keys unabbreviated and `~` substituted.
    doc: Map<String, Value>,
}

/// The entities announced for one device.
struct Group {
    /// The device's name, or what stands for it.
    label: String,
    /// The device's name, when one of its entities gave it.
    device_name: Option<String>,
    entities: Vec<Announced>,
}

/// Read the discovery messages in `seen`. `known` are the devices other conventions
/// found, with what to call them in a comment.
pub(super) fn find<'a>(seen: &'a [Seen], known: &[(String, Adapter)]) -> Discovered<'a> {
    let mut notes = Vec::new();
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for s in seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        let (component, node_id, object_id) = match levels[..] {
            [PREFIX, c, o, "config"] => (c, None, o),
            [PREFIX, c, n, o, "config"] => (c, Some(n), o),
            _ => continue,
        };
        // An empty retained config is how an entity is removed.
        if s.payload.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let Ok(Value::Object(raw)) = serde_json::from_slice::<Value>(&s.payload) else {
            notes.push(format!("{}: not a JSON object", s.topic));
            continue;
        };
        let doc = expand(&raw);
        let device = doc.get("device").and_then(Value::as_object);
        let identifier = device
            .and_then(|d| d.get("identifiers"))
            .and_then(|i| match i {
                Value::Array(a) => a.first().and_then(text),
                other => text(other),
            });
        let device_name = device.and_then(|d| d.get("name")).and_then(text);
        let key = identifier
            .clone()
            .or_else(|| device_name.clone())
            .or_else(|| node_id.map(str::to_string))
            .unwrap_or_else(|| object_id.to_string());
        let g = groups.entry(key.clone()).or_insert_with(|| Group {
            label: device_name
                .clone()
                .or_else(|| node_id.map(str::to_string))
                .unwrap_or(key),
            device_name: None,
            entities: Vec::new(),
        });
        if g.device_name.is_none() {
            g.device_name.clone_from(&device_name);
        }
        g.entities.push(Announced {
            topic: s.topic.clone(),
            component: component.to_string(),
            object_id: doc
                .get("object_id")
                .and_then(text)
                .unwrap_or_else(|| object_id.to_string()),
            doc,
        });
    }

    let mut found = Vec::new();
    let mut claimed: BTreeSet<&'a str> = BTreeSet::new();
    let claim = |claimed: &mut BTreeSet<&'a str>, topics: &[String]| {
        for s in seen.iter().filter(|s| topics.contains(&s.topic)) {
            claimed.insert(s.topic.as_str());
        }
    };
    for g in groups.values() {
        let device = device(g);
        let label = &g.label;
        // Every topic the device reads, mirrored entity or not: one of them in another
        // convention's hands means the device is that convention's.
        let mut topics: Vec<String> = g
            .entities
            .iter()
            .filter_map(|a| a.doc.get("state_topic").and_then(Value::as_str))
            .map(str::to_string)
            .collect();
        topics.extend(device.config.availability_topic.clone());
        if let Some((other, _)) = known
            .iter()
            .find(|(_, a)| topics.iter().any(|t| a.wants(t)))
        {
            notes.push(format!(
                "Home Assistant device {label}: already mirrored above as {other}, whose topics it announces"
            ));
            claim(&mut claimed, &topics);
            continue;
        }
        if device.config.entities.is_empty() {
            notes.push(format!(
                "Home Assistant device {label}: nothing this version mirrors"
            ));
            notes.extend(device.skipped.iter().map(|s| format!("  {s}")));
            claim(&mut claimed, &topics);
            continue;
        }
        let cfg = AdapterConfig::HomeAssistant(device.config.clone());
        let (readings, read) = decode_all(&cfg, seen);
        claimed.extend(read);
        claim(&mut claimed, &topics);
        let mut comment = format!("Home Assistant device {label}{}", reading_list(&readings));
        for s in &device.skipped {
            comment.push_str(&format!("\n#   not mirrored: {s}"));
        }
        let mut lines = vec!["adapter = \"homeassistant\"".to_string()];
        let c = &device.config;
        if let Some(t) = &c.availability_topic {
            lines.push(format!("availability_topic = {}", quote(t)));
            if c.payload_available != DEFAULT_AVAILABLE {
                lines.push(format!(
                    "payload_available = {}",
                    quote(&c.payload_available)
                ));
            }
            if c.payload_not_available != DEFAULT_NOT_AVAILABLE {
                lines.push(format!(
                    "payload_not_available = {}",
                    quote(&c.payload_not_available)
                ));
            }
        }
        lines.push("entities = [".into());
        lines.extend(c.entities.iter().map(|e| format!("  {},", entity_line(e))));
        lines.push("]".into());
        lines.extend(model_line(&readings));
        found.push(Found {
            id: sanitise(&label.to_lowercase()),
            lines,
            comment,
        });
    }
    Discovered {
        found,
        claimed: claimed.into_iter().collect(),
        notes,
    }
}

/// A device's config, and the entities left out with the reason.
struct Device {
    config: HomeAssistantConfig,
    skipped: Vec<String>,
}

fn device(g: &Group) -> Device {
    let mut availability: Option<(String, String, String)> = None;
    let mut skipped = Vec::new();
    let mut entities: Vec<HaEntity> = Vec::new();
    for a in &g.entities {
        let doc = &a.doc;
        let avty = match doc.get("availability_topic").and_then(Value::as_str) {
            Some(t) => Some((t.to_string(), doc.clone())),
            // The list form: the first entry (a device usually has one).
            None => match doc.get("availability") {
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|e| unabbreviate(e, AVAILABILITY_ABBREVIATIONS))
                    .find_map(|e| {
                        if e.contains_key("value_template") {
                            skipped.push(format!(
                                "{}: an availability value_template (availability left out)",
                                a.topic
                            ));
                            return None;
                        }
                        Some((e.get("topic")?.as_str()?.to_string(), e))
                    }),
                _ => None,
            },
        };
        if availability.is_none()
            && let Some((t, words)) = avty
            && plain_topic(&t)
        {
            let word = |k: &str, d: &str| words.get(k).and_then(text).unwrap_or_else(|| d.into());
            let on = word("payload_available", DEFAULT_AVAILABLE);
            let off = word("payload_not_available", DEFAULT_NOT_AVAILABLE);
            if on != off {
                availability = Some((t, on, off));
            }
        }
        match entity(a, g.device_name.as_deref(), &entities) {
            Ok(e) => entities.push(e),
            Err(why) => skipped.push(format!("{}: {why}", a.topic)),
        }
    }
    // An entity whose state arrives on the availability topic cannot be told from it.
    if let Some((t, ..)) = &availability {
        entities.retain(|e| {
            let keep = e.state_topic != *t;
            if !keep {
                skipped.push(format!(
                    "{}: its state_topic is the availability topic",
                    e.name
                ));
            }
            keep
        });
    }
    let (availability_topic, payload_available, payload_not_available) = match availability {
        Some((t, on, off)) => (Some(t), on, off),
        None => (None, DEFAULT_AVAILABLE.into(), DEFAULT_NOT_AVAILABLE.into()),
    };
    Device {
        config: HomeAssistantConfig {
            availability_topic,
            payload_available,
            payload_not_available,
            entities,
        },
        skipped,
    }
}

/// One announced entity as the adapter reads it, or why it is left out.
fn entity(
    a: &Announced,
    device_name: Option<&str>,
    taken: &[HaEntity],
) -> Result<HaEntity, String> {
    let doc = &a.doc;
    let Some(component) = HaComponent::from_name(&a.component) else {
        return Err(format!("component {} is not mirrored", a.component));
    };
    let state_topic = match doc.get("state_topic").and_then(Value::as_str) {
        Some(t) if plain_topic(t) => t.to_string(),
        Some(t) => return Err(format!("state_topic \"{t}\" is not one topic")),
        None => return Err("no state_topic".into()),
    };
    let value_template = match doc.get("value_template").and_then(Value::as_str) {
        Some(t) => ValueTemplate::parse(t).map_err(|why| format!("value_template {t}: {why}"))?,
        None => ValueTemplate::payload(),
    };
    let command_topic = if component.commandable() {
        doc.get("command_topic")
            .and_then(Value::as_str)
            .filter(|t| plain_topic(t))
            .map(str::to_string)
    } else {
        None
    };
    let word = |k: &str, d: &str| doc.get(k).and_then(text).unwrap_or_else(|| d.into());
    let (payload_on, payload_off) = (
        word("payload_on", DEFAULT_ON),
        word("payload_off", DEFAULT_OFF),
    );
    if component.is_switch() && payload_on == payload_off {
        return Err(format!(
            "payload_on and payload_off are both \"{payload_on}\""
        ));
    }
    Ok(HaEntity {
        name: name(a, device_name.unwrap_or_default(), taken),
        component,
        state_topic,
        command_topic,
        value_template,
        payload_on,
        payload_off,
    })
}

/// The entity's key: its name without the device's name in front (Home Assistant's
/// older convention), else its object id, as lower-case `snake_case`, unique in the
/// device.
fn name(a: &Announced, device_name: &str, taken: &[HaEntity]) -> String {
    let own = a
        .doc
        .get("name")
        .and_then(text)
        .map(|n| match n.get(..device_name.len()) {
            Some(head) if !device_name.is_empty() && head.eq_ignore_ascii_case(device_name) => {
                n[device_name.len()..].to_string()
            }
            _ => n,
        });
    let base = own
        .map(|n| snake(&n))
        .filter(|n| !n.is_empty())
        .or_else(|| Some(snake(&a.object_id)).filter(|n| !n.is_empty()))
        .unwrap_or_else(|| a.component.clone());
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|e| e.name == name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

/// Lower-case letters and digits, anything else one `_`, none at the ends.
fn snake(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// `{ name = ..., component = ..., ... }` for the config.
fn entity_line(e: &HaEntity) -> String {
    let mut parts = vec![
        format!("name = {}", quote(&e.name)),
        format!("component = {}", quote(e.component.name())),
        format!("state_topic = {}", quote(&e.state_topic)),
    ];
    if let Some(t) = &e.command_topic {
        parts.push(format!("command_topic = {}", quote(t)));
    }
    if e.value_template != ValueTemplate::payload() {
        parts.push(format!(
            "value_template = {}",
            quote(e.value_template.as_str())
        ));
    }
    if e.component.is_switch() {
        parts.push(format!("payload_on = {}", quote(&e.payload_on)));
        parts.push(format!("payload_off = {}", quote(&e.payload_off)));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// A discovery payload as Home Assistant reads it: abbreviated keys spelt out, and the
/// `~` at the start or end of a `*topic` value replaced by the `~` key's base topic.
fn expand(raw: &Map<String, Value>) -> Map<String, Value> {
    let mut doc = unabbreviate(raw, ABBREVIATIONS);
    if let Some(Value::Object(d)) = doc.get("device") {
        let d = unabbreviate(d, DEVICE_ABBREVIATIONS);
        doc.insert("device".into(), Value::Object(d));
    }
    let base = doc.remove("~").and_then(|b| b.as_str().map(str::to_string));
    if let Some(base) = base {
        for (k, v) in doc.iter_mut() {
            if k.ends_with("topic") {
                substitute(v, &base);
            }
        }
        if let Some(Value::Array(list)) = doc.get_mut("availability") {
            for e in list.iter_mut().filter_map(Value::as_object_mut) {
                for k in ["t", "topic"] {
                    if let Some(v) = e.get_mut(k) {
                        substitute(v, &base);
                    }
                }
            }
        }
    }
    doc
}

fn substitute(v: &mut Value, base: &str) {
    if let Value::String(s) = v {
        if let Some(rest) = s.strip_prefix('~') {
            *s = format!("{base}{rest}");
        } else if let Some(rest) = s.strip_suffix('~') {
            *s = format!("{rest}{base}");
        }
    }
}

fn unabbreviate(o: &Map<String, Value>, table: &[(&str, &str)]) -> Map<String, Value> {
    o.iter()
        .map(|(k, v)| {
            let k = table
                .iter()
                .find(|(short, _)| short == k)
                .map_or_else(|| k.clone(), |(_, full)| (*full).to_string());
            (k, v.clone())
        })
        .collect()
}

/// A string, or a number or boolean as text (`"pl_on": 1`).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// One topic to read: not empty, no wildcards.
fn plain_topic(t: &str) -> bool {
    !t.is_empty() && !t.contains(['+', '#'])
}

#[cfg(test)]
mod tests {
    use crate::adapter::{Adapter, Event, Outcome};
    use crate::config::{AdapterConfig, HaComponent, HomeAssistantConfig, MirrorConfig};
    use crate::discover::{Seen, starter_config};
    use serde_json::json;

    fn seen(topic: &str, payload: &str) -> Seen {
        Seen {
            topic: topic.into(),
            payload: payload.as_bytes().to_vec(),
            count: 1,
        }
    }

    /// The config printed for `s`, parsed as `twin mirror` parses it.
    fn discovered(s: &[Seen]) -> (String, MirrorConfig) {
        let text = starter_config(s, "home", None);
        let cfg =
            MirrorConfig::parse(&text, "discovered.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        (text, cfg)
    }

    fn ha<'a>(cfg: &'a MirrorConfig, id: &str, text: &str) -> &'a HomeAssistantConfig {
        match cfg.device(id).map(|d| &d.adapter) {
            Some(AdapterConfig::HomeAssistant(h)) => h,
            other => panic!("{id}: {other:?}\n{text}"),
        }
    }

    #[test]
    fn entities_are_grouped_into_devices_with_abbreviations_and_base_topics() {
        let s = vec![
            // Abbreviated, with `~`, a node id, and the device's name in front of the
            // entity's (Home Assistant's older convention).
            seen(
                "homeassistant/sensor/plug/temperature/config",
                r#"{"~":"kitchen/plug","name":"Kitchen plug Temperature","stat_t":"~/state","val_tpl":"{{ value_json.temperature }}","avty_t":"~/avail","pl_avail":"up","pl_not_avail":"down","uniq_id":"p-t","dev":{"ids":["0xA1"],"name":"Kitchen plug"}}"#,
            ),
            seen(
                "homeassistant/switch/plug/relay/config",
                r#"{"~":"kitchen/plug","name":"Kitchen plug Power","stat_t":"~/state","val_tpl":"{{ value_json.power }}","cmd_t":"~/relay/set","pl_on":"on","pl_off":"off","avty_t":"~/avail","pl_avail":"up","pl_not_avail":"down","dev":{"ids":"0xA1"}}"#,
            ),
            // Same device (identifier), unabbreviated, no node id.
            seen(
                "homeassistant/number/plug_target/config",
                r#"{"~":"kitchen/plug/target","name":"Target","state_topic":"~","command_topic":"~/set","device":{"identifiers":["0xA1"]}}"#,
            ),
            // Not mirrored: a light, and a template beyond the simple forms.
            seen(
                "homeassistant/light/plug/led/config",
                r#"{"name":"LED","stat_t":"kitchen/plug/led","dev":{"ids":["0xA1"]}}"#,
            ),
            seen(
                "homeassistant/sensor/plug/energy/config",
                r#"{"name":"Energy","stat_t":"kitchen/plug/state","val_tpl":"{{ value_json.energy * 1000 }}","dev":{"ids":["0xA1"]}}"#,
            ),
            // Another device, grouped by its name, with the availability list form and a
            // `~` at the end of a topic.
            seen(
                "homeassistant/binary_sensor/door/config",
                r#"{"~":"door","name":"Contact","stat_t":"hall/~","pl_on":"open","pl_off":"closed","avty":[{"t":"hall/door/lwt"}],"dev":{"name":"Hall door"}}"#,
            ),
            // A third, known only by its node id; a removed entity (empty payload).
            seen(
                "homeassistant/sensor/attic/temp/config",
                r#"{"stat_t":"attic/t"}"#,
            ),
            seen("homeassistant/sensor/attic/old/config", ""),
            // The state the devices published.
            seen(
                "kitchen/plug/state",
                r#"{"temperature":21.5,"power":"on","energy":3}"#,
            ),
            seen("kitchen/plug/avail", "up"),
            seen("kitchen/plug/target", "20"),
            seen("hall/door", "closed"),
            seen("attic/t", "12.5"),
        ];
        let (text, cfg) = discovered(&s);
        let ids: Vec<&str> = cfg.devices.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["kitchen-plug", "hall-door", "attic"], "{text}");

        let plug = ha(&cfg, "kitchen-plug", &text);
        assert_eq!(
            plug.availability_topic.as_deref(),
            Some("kitchen/plug/avail")
        );
        assert_eq!(
            (
                plug.payload_available.as_str(),
                plug.payload_not_available.as_str()
            ),
            ("up", "down")
        );
        let summary: Vec<(&str, HaComponent, &str, Option<&str>)> = plug
            .entities
            .iter()
            .map(|e| {
                (
                    e.name.as_str(),
                    e.component,
                    e.state_topic.as_str(),
                    e.command_topic.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "temperature",
                    HaComponent::Sensor,
                    "kitchen/plug/state",
                    None
                ),
                (
                    "power",
                    HaComponent::Switch,
                    "kitchen/plug/state",
                    Some("kitchen/plug/relay/set")
                ),
                (
                    "target",
                    HaComponent::Number,
                    "kitchen/plug/target",
                    Some("kitchen/plug/target/set")
                ),
            ],
            "{text}"
        );
        assert_eq!(
            (
                plug.entities[1].payload_on.as_str(),
                plug.entities[1].payload_off.as_str()
            ),
            ("on", "off")
        );
        assert!(
            cfg.device("kitchen-plug")
                .is_some_and(|d| d.model.is_some()),
            "a temperature suggests a model: {text}"
        );
        for skipped in [
            "not mirrored: homeassistant/light/plug/led/config: component light is not mirrored",
            "not mirrored: homeassistant/sensor/plug/energy/config: value_template {{ value_json.energy * 1000 }}: unexpected `* 1000`",
        ] {
            assert!(text.contains(skipped), "{skipped}\n{text}");
        }
        assert!(
            text.contains("Home Assistant device Kitchen plug: temperature 21.5, target 20"),
            "{text}"
        );

        let door = ha(&cfg, "hall-door", &text);
        assert_eq!(door.availability_topic.as_deref(), Some("hall/door/lwt"));
        assert_eq!(door.payload_available, "online");
        assert_eq!(door.entities[0].name, "contact");
        assert_eq!(door.entities[0].payload_on, "open");

        let attic = ha(&cfg, "attic", &text);
        assert_eq!(attic.availability_topic, None);
        assert_eq!(attic.entities[0].name, "temp");

        // The printed entities read what the device publishes.
        let mut a = Adapter::new(cfg.devices[0].adapter.clone());
        assert_eq!(
            a.decode(
                "kitchen/plug/state",
                br#"{"temperature":22,"power":"off"}"#,
                1024
            ),
            Outcome::Events(vec![
                Event::Reading("temperature".into(), 22.0),
                Event::State("power".into(), json!(false)),
            ])
        );
        // A device's JSON state is its own, not a generic JSON device besides.
        assert!(!text.contains("adapter = \"json\""), "{text}");
    }

    #[test]
    fn a_device_another_convention_mirrors_is_not_repeated() {
        let s = vec![
            // An ESPHome node that also announces itself to Home Assistant.
            seen("kitchen/status", "online"),
            seen("kitchen/sensor/kitchen_temperature/state", "22.1"),
            seen("kitchen/switch/fan/state", "OFF"),
            seen(
                "homeassistant/sensor/kitchen/kitchen_temperature/config",
                r#"{"name":"Kitchen Temperature","stat_t":"kitchen/sensor/kitchen_temperature/state","avty_t":"kitchen/status","uniq_id":"espsensorkitchen_temperature","dev":{"ids":"24a160d3c2e4","name":"kitchen","sw":"esphome v2024.6.1"}}"#,
            ),
            seen(
                "homeassistant/switch/kitchen/fan/config",
                r#"{"name":"Fan","stat_t":"~/switch/fan/state","cmd_t":"~/switch/fan/command","~":"kitchen","avty_t":"~/status","dev":{"ids":"24a160d3c2e4","name":"kitchen"}}"#,
            ),
            // A Tasmota plug with SetOption19: its discovery points at tele/…/SENSOR.
            seen("tele/tasmota_plug/LWT", "Online"),
            seen(
                "tele/tasmota_plug/SENSOR",
                r#"{"AM2301":{"Temperature":21.5,"Humidity":40.1}}"#,
            ),
            seen(
                "homeassistant/sensor/5CCF7F000001_AM2301_Temperature/config",
                r#"{"name":"Tasmota AM2301 Temperature","stat_t":"tele/tasmota_plug/SENSOR","avty_t":"tele/tasmota_plug/LWT","pl_avail":"Online","pl_not_avail":"Offline","val_tpl":"{{value_json['AM2301'].Temperature}}","dev":{"ids":["5CCF7F000001"]}}"#,
            ),
            // And one device only Home Assistant discovery describes.
            seen(
                "homeassistant/sensor/garage/t/config",
                r#"{"name":"Temperature","stat_t":"garage/state","val_tpl":"{{ value_json.t }}","dev":{"name":"garage"}}"#,
            ),
            seen("garage/state", r#"{"t":7.5}"#),
        ];
        let (text, cfg) = discovered(&s);
        let summary: Vec<(&str, &str)> = cfg
            .devices
            .iter()
            .map(|d| (d.id.as_str(), Adapter::new(d.adapter.clone()).name()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("tasmota_plug", "tasmota"),
                ("kitchen", "esphome"),
                ("garage", "homeassistant"),
            ],
            "{text}"
        );
        assert!(
            text.contains(
                "Home Assistant device kitchen: already mirrored above as ESPHome node kitchen"
            ),
            "{text}"
        );
        assert!(
            text.contains("Home Assistant device 5CCF7F000001: already mirrored above as Tasmota device tasmota_plug"),
            "{text}"
        );
    }

    #[test]
    fn broken_or_empty_discovery_is_a_comment() {
        let s = vec![
            seen("homeassistant/sensor/x/config", "not json"),
            seen("homeassistant/sensor/y/t/config", "{}"),
            seen(
                "homeassistant/climate/z/config",
                r#"{"name":"Heat","dev":{"name":"hvac"}}"#,
            ),
        ];
        let (text, cfg) = discovered(&s);
        assert!(cfg.devices.is_empty(), "{text}");
        for note in [
            "homeassistant/sensor/x/config: not a JSON object",
            "Home Assistant device y: nothing this version mirrors",
            "homeassistant/sensor/y/t/config: no state_topic",
            "Home Assistant device hvac: nothing this version mirrors",
            "homeassistant/climate/z/config: component climate is not mirrored",
        ] {
            assert!(text.contains(note), "{note}\n{text}");
        }
    }
}
