//! Home Assistant discovery messages as Home Assistant reads them: the retained
//! `homeassistant/{component}/[{node_id}/]{object_id}/config` payloads, abbreviations
//! (`stat_t`, `dev`, `ids`, ...) expanded and the `~` base topic substituted, grouped by
//! the device they announce.

use crate::discover::listen::Seen;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Home Assistant's default discovery prefix.
pub(crate) const PREFIX: &str = "homeassistant";

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
pub(crate) const AVAILABILITY_ABBREVIATIONS: &[(&str, &str)] = &[
    ("pl_avail", "payload_available"),
    ("pl_not_avail", "payload_not_available"),
    ("t", "topic"),
    ("val_tpl", "value_template"),
];

/// One entity's discovery message.
pub(crate) struct Announced {
    /// `homeassistant/.../config`.
    pub topic: String,
    /// `sensor`, `switch`, ...
    pub component: String,
    /// Its object id, from the payload or else the topic.
    pub object_id: String,
    /// Its payload, keys unabbreviated and `~` substituted.
    pub doc: Map<String, Value>,
}

/// The entities announced for one device.
pub(crate) struct Group {
    /// The device's name, or what stands for it.
    pub label: String,
    /// The device's name, when one of its entities gave it.
    pub device_name: Option<String>,
    /// Its entities, in the order seen.
    pub entities: Vec<Announced>,
}

/// Read the discovery messages in `seen`, grouped by the device they announce (its
/// first identifier, else its name, else the node id, else the object id); `notes`
/// gets the ones that cannot be read.
pub(crate) fn groups(seen: &[Seen], notes: &mut Vec<String>) -> BTreeMap<String, Group> {
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
    groups
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

/// `~` at the start or end of a topic replaced by the base topic.
fn substitute(v: &mut Value, base: &str) {
    if let Value::String(s) = v {
        if let Some(rest) = s.strip_prefix('~') {
            *s = format!("{base}{rest}");
        } else if let Some(rest) = s.strip_suffix('~') {
            *s = format!("{rest}{base}");
        }
    }
}

/// `o` with its keys spelt out by `table`.
pub(crate) fn unabbreviate(o: &Map<String, Value>, table: &[(&str, &str)]) -> Map<String, Value> {
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
pub(crate) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}
