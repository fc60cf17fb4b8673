//! Home Assistant MQTT discovery, read at discovery time: the retained
//! `homeassistant/{component}/[{node_id}/]{object_id}/config` messages, grouped into
//! devices, written as `adapter = "homeassistant"` entries with their entities.
//!
//! Home Assistant's abbreviations (`stat_t`, `dev`, `ids`, ...) are expanded and the `~`
//! base topic substituted, as Home Assistant does, before anything is read. ESPHome and
//! Tasmota announce themselves this way too; a device whose topics another convention
//! already mirrors is left to it, with a comment, so that one device is not mirrored twice.

use crate::adapter::config::AdapterConfig;
use crate::adapter::homeassistant::announced::{
    AVAILABILITY_ABBREVIATIONS, Announced, Group, groups, text, unabbreviate,
};
use crate::adapter::homeassistant::entity::{
    DEFAULT_AVAILABLE, DEFAULT_NOT_AVAILABLE, DEFAULT_OFF, DEFAULT_ON, HaComponent, HaEntity,
    HomeAssistantConfig,
};
use crate::adapter::template::ValueTemplate;
use crate::discover::scan::{Found, Scan, decode_all, model_line, quote, reading_list, sanitise};
use serde_json::Value;

/// Add every device Home Assistant discovery announced that no other convention
/// mirrors; what is left out, and why, goes to the notes.
pub(crate) fn find(scan: &mut Scan<'_>) {
    let groups = groups(scan.seen, &mut scan.notes);
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
        if let Some((other, _)) = scan
            .known
            .iter()
            .find(|(_, a)| topics.iter().any(|t| a.wants(t)))
        {
            let note = format!(
                "Home Assistant device {label}: already mirrored above as {other}, whose topics it announces"
            );
            scan.notes.push(note);
            claim(scan, &topics);
            continue;
        }
        if device.config.entities.is_empty() {
            scan.notes.push(format!(
                "Home Assistant device {label}: nothing this version mirrors"
            ));
            scan.notes
                .extend(device.skipped.iter().map(|s| format!("  {s}")));
            claim(scan, &topics);
            continue;
        }
        let cfg = AdapterConfig::HomeAssistant(device.config.clone());
        let (readings, read) = decode_all(&cfg, scan.seen);
        scan.claimed.extend(read);
        claim(scan, &topics);
        let mut comment = format!("Home Assistant device {label}{}", reading_list(&readings));
        for s in &device.skipped {
            comment.push_str(&format!("\n#   not mirrored: {s}"));
        }
        let mut lines = config_lines(&device.config);
        lines.extend(model_line(&readings));
        scan.found.push(Found {
            id: sanitise(&label.to_lowercase()),
            lines,
            comment,
        });
    }
}

/// Claim the seen topics among `topics`.
fn claim(scan: &mut Scan<'_>, topics: &[String]) {
    let seen = scan.seen;
    for s in seen.iter().filter(|s| topics.contains(&s.topic)) {
        scan.claimed.insert(s.topic.as_str());
    }
}

/// A device's `[[device]]` lines after `id`, its model aside.
fn config_lines(c: &HomeAssistantConfig) -> Vec<String> {
    let mut lines = vec!["adapter = \"homeassistant\"".to_string()];
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
    lines
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
    let command_template = match doc.get("command_template").and_then(Value::as_str) {
        Some(t) if component.templated() => Some(super::entity::command_template(t)?),
        _ => None,
    };
    Ok(HaEntity {
        name: name(a, device_name.unwrap_or_default(), taken),
        component,
        state_topic,
        command_topic,
        value_template,
        payload_on,
        payload_off,
        command_template,
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
    if let Some(t) = &e.command_template {
        parts.push(format!("command_template = {}", quote(t)));
    }
    format!("{{ {} }}", parts.join(", "))
}

/// One topic to read: not empty, no wildcards.
fn plain_topic(t: &str) -> bool {
    !t.is_empty() && !t.contains(['+', '#'])
}

#[cfg(test)]
#[path = "discover_tests.rs"]
mod tests;
