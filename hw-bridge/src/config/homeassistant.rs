//! `adapter = "homeassistant"`: a device that announces itself by Home Assistant MQTT
//! discovery. The mirror subscribes once, at start, so the entities the discovery
//! announced are written into the config (`twin mirror --discover` does it) and checked
//! here: one `{ name, component, state_topic, ... }` per entity.

use super::{At, RawDevice};
use crate::adapter::template::ValueTemplate;
use crate::error::BridgeError;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::ops::Range;
use toml::Spanned;

/// The Home Assistant adapter's settings: the entities one device's discovery announced.
#[derive(Debug, Clone, PartialEq)]
pub struct HomeAssistantConfig {
    /// Where `payload_available`/`payload_not_available` (often a last will) arrive.
    pub availability_topic: Option<String>,
    /// The word that says online (default `online`).
    pub payload_available: String,
    /// The word that says offline (default `offline`).
    pub payload_not_available: String,
    /// The entities, in file order; several may share a state topic.
    pub entities: Vec<HaEntity>,
}

/// One entity of a Home Assistant device.
#[derive(Debug, Clone, PartialEq)]
pub struct HaEntity {
    /// Its reading or state key.
    pub name: String,
    /// What kind of entity it is.
    pub component: HaComponent,
    /// Where its value arrives.
    pub state_topic: String,
    /// Where it takes commands (switches and numbers only).
    pub command_topic: Option<String>,
    /// How its value is read from a payload on `state_topic`.
    pub value_template: ValueTemplate,
    /// A switch's or binary sensor's word for on (default `ON`).
    pub payload_on: String,
    /// A switch's or binary sensor's word for off (default `OFF`).
    pub payload_off: String,
}

/// The Home Assistant components the adapter mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaComponent {
    /// A number: a reading.
    Sensor,
    /// `payload_on`/`payload_off`: a state, true or false.
    BinarySensor,
    /// Like a binary sensor, and commandable with the same words.
    Switch,
    /// A number that is also a state, commandable with the number as text.
    Number,
}

impl HaComponent {
    /// Every component mirrored, as `component = "..."` names it.
    pub const ALL: [HaComponent; 4] = [
        HaComponent::Sensor,
        HaComponent::BinarySensor,
        HaComponent::Switch,
        HaComponent::Number,
    ];

    /// The component named so in Home Assistant.
    pub fn from_name(s: &str) -> Option<HaComponent> {
        HaComponent::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Its name in Home Assistant.
    pub fn name(self) -> &'static str {
        match self {
            HaComponent::Sensor => "sensor",
            HaComponent::BinarySensor => "binary_sensor",
            HaComponent::Switch => "switch",
            HaComponent::Number => "number",
        }
    }

    /// Whether it reads `payload_on`/`payload_off`.
    pub fn is_switch(self) -> bool {
        matches!(self, HaComponent::BinarySensor | HaComponent::Switch)
    }

    /// Whether it can have a `command_topic`.
    pub fn commandable(self) -> bool {
        matches!(self, HaComponent::Switch | HaComponent::Number)
    }

    fn names() -> String {
        HaComponent::ALL.map(HaComponent::name).join(", ")
    }
}

/// Home Assistant's default availability words.
pub const DEFAULT_AVAILABLE: &str = "online";
/// See [`DEFAULT_AVAILABLE`].
pub const DEFAULT_NOT_AVAILABLE: &str = "offline";
/// Home Assistant's default switch words.
pub const DEFAULT_ON: &str = "ON";
/// See [`DEFAULT_ON`].
pub const DEFAULT_OFF: &str = "OFF";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEntity {
    name: Spanned<String>,
    component: Spanned<String>,
    state_topic: Spanned<String>,
    command_topic: Option<Spanned<String>>,
    value_template: Option<Spanned<String>>,
    payload_on: Option<Spanned<String>>,
    payload_off: Option<Spanned<String>>,
}

/// Whether an entity name can be a reading or state key: letters, digits, `_` and `-`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn parse(d: &RawDevice, at: &At<'_>) -> Result<HomeAssistantConfig, BridgeError> {
    // A topic to read from or publish to: one exact topic, no wildcards.
    let topic = |s: &Spanned<String>, key: &str| -> Result<String, BridgeError> {
        let t = s.get_ref();
        if t.is_empty() || t.contains(['+', '#']) {
            return Err(at(
                s.span(),
                format!("`{key}` \"{t}\" must be one topic, not empty and without '+' or '#'"),
            ));
        }
        Ok(t.clone())
    };
    let word = |v: &Option<Spanned<String>>, default: &str| {
        v.as_ref()
            .map_or_else(|| default.to_string(), |s| s.get_ref().clone())
    };
    let differ = |on: &str, off: &str, keys: &str, span: Range<usize>| {
        if on == off {
            Err(at(
                span,
                format!("{keys} are both \"{on}\": they must differ"),
            ))
        } else {
            Ok(())
        }
    };

    let availability_topic = match &d.availability_topic {
        Some(s) => Some(topic(s, "availability_topic")?),
        None => None,
    };
    let payload_available = word(&d.payload_available, DEFAULT_AVAILABLE);
    let payload_not_available = word(&d.payload_not_available, DEFAULT_NOT_AVAILABLE);
    if let Some(s) = d
        .payload_not_available
        .as_ref()
        .or(d.payload_available.as_ref())
    {
        differ(
            &payload_available,
            &payload_not_available,
            "`payload_available` and `payload_not_available`",
            s.span(),
        )?;
    }

    let Some(raw) = &d.entities else {
        return Err(at(
            d.adapter.span(),
            "adapter \"homeassistant\" needs `entities`, like [{ name = \"temperature\", component = \"sensor\", state_topic = \"...\" }]".into(),
        ));
    };
    if raw.get_ref().is_empty() {
        return Err(at(raw.span(), "`entities` is empty".into()));
    }
    let mut names = BTreeSet::new();
    let mut entities = Vec::with_capacity(raw.get_ref().len());
    for e in raw.get_ref() {
        let e = e.get_ref();
        let name = e.name.get_ref().clone();
        if !valid_name(&name) {
            return Err(at(
                e.name.span(),
                format!("entity name \"{name}\" must be letters, digits, '_' and '-'"),
            ));
        }
        if !names.insert(name.clone()) {
            return Err(at(
                e.name.span(),
                format!("entity name \"{name}\" is used twice in this device"),
            ));
        }
        let component = HaComponent::from_name(e.component.get_ref()).ok_or_else(|| {
            at(
                e.component.span(),
                format!(
                    "component \"{}\" is not mirrored; expected one of {}",
                    e.component.get_ref(),
                    HaComponent::names()
                ),
            )
        })?;
        let state_topic = topic(&e.state_topic, "state_topic")?;
        if availability_topic.as_deref() == Some(state_topic.as_str()) {
            return Err(at(
                e.state_topic.span(),
                format!("`state_topic` \"{state_topic}\" is also the device's availability_topic"),
            ));
        }
        let command_topic = match &e.command_topic {
            Some(s) if !component.commandable() => {
                return Err(at(
                    s.span(),
                    format!(
                        "a {} takes no commands: `command_topic` is for switch and number",
                        component.name()
                    ),
                ));
            }
            Some(s) => Some(topic(s, "command_topic")?),
            None => None,
        };
        for s in [&e.payload_on, &e.payload_off].into_iter().flatten() {
            if !component.is_switch() {
                return Err(at(
                    s.span(),
                    format!(
                        "a {} has no on and off: `payload_on` and `payload_off` are for switch and binary_sensor",
                        component.name()
                    ),
                ));
            }
        }
        let payload_on = word(&e.payload_on, DEFAULT_ON);
        let payload_off = word(&e.payload_off, DEFAULT_OFF);
        if let Some(s) = e.payload_off.as_ref().or(e.payload_on.as_ref()) {
            differ(
                &payload_on,
                &payload_off,
                "`payload_on` and `payload_off`",
                s.span(),
            )?;
        }
        let value_template = match &e.value_template {
            Some(s) => ValueTemplate::parse(s.get_ref()).map_err(|why| {
                at(
                    s.span(),
                    format!("value_template \"{}\": {why}", s.get_ref()),
                )
            })?,
            None => ValueTemplate::payload(),
        };
        entities.push(HaEntity {
            name,
            component,
            state_topic,
            command_topic,
            value_template,
            payload_on,
            payload_off,
        });
    }
    Ok(HomeAssistantConfig {
        availability_topic,
        payload_available,
        payload_not_available,
        entities,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{AdapterConfig, HaComponent, MirrorConfig};

    const HEAD: &str = "[[device]]\nid = \"plug\"\nadapter = \"homeassistant\"\n";

    fn err(src: &str) -> String {
        match MirrorConfig::parse(src, "m.toml") {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    #[test]
    fn a_device_with_its_entities_parses() {
        let src = format!(
            "{HEAD}availability_topic = \"plug/status\"\npayload_available = \"Online\"\npayload_not_available = \"Offline\"\nentities = [\n  {{ name = \"temperature\", component = \"sensor\", state_topic = \"plug/state\", value_template = \"{{{{ value_json.temperature | round(1) }}}}\" }},\n  {{ name = \"power\", component = \"switch\", state_topic = \"plug/state\", command_topic = \"plug/set\", value_template = \"{{{{ value_json.power }}}}\", payload_on = \"on\", payload_off = \"off\" }},\n  {{ name = \"door\", component = \"binary_sensor\", state_topic = \"plug/door\" }},\n]\n"
        );
        let c = MirrorConfig::parse(&src, "m.toml").unwrap_or_else(|e| panic!("{e}"));
        let AdapterConfig::HomeAssistant(ha) = &c.devices[0].adapter else {
            panic!("{c:?}")
        };
        assert_eq!(ha.availability_topic.as_deref(), Some("plug/status"));
        assert_eq!(
            (
                ha.payload_available.as_str(),
                ha.payload_not_available.as_str()
            ),
            ("Online", "Offline")
        );
        let e = &ha.entities;
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].name.as_str(), e[0].component),
            ("temperature", HaComponent::Sensor)
        );
        assert_eq!(
            e[0].value_template.as_str(),
            "{{ value_json.temperature | round(1) }}"
        );
        assert_eq!(e[1].command_topic.as_deref(), Some("plug/set"));
        assert_eq!(
            (e[1].payload_on.as_str(), e[1].payload_off.as_str()),
            ("on", "off")
        );
        assert_eq!(
            (e[2].payload_on.as_str(), e[2].payload_off.as_str()),
            ("ON", "OFF")
        );
        assert_eq!(e[2].value_template.as_str(), "{{ value }}");
    }

    #[test]
    fn mistakes_point_at_their_line_and_column() {
        let one = |entity: &str| format!("{HEAD}entities = [\n  {entity},\n]\n");
        let e = err(HEAD);
        assert!(
            e.contains("m.toml:3:11") && e.contains("needs `entities`"),
            "{e}"
        );
        let e = err(&format!("{HEAD}entities = []\n"));
        assert!(e.contains("m.toml:4:12") && e.contains("is empty"), "{e}");
        let e = err(&one(
            r#"{ name = "t", component = "sensor", state_topic = "p/s", value_template = "{{ value_json.t * 10 }}" }"#,
        ));
        assert!(
            e.contains("m.toml:5:77") && e.contains("value_template") && e.contains("* 10"),
            "{e}"
        );
        let e = err(&one(
            r#"{ name = "l", component = "light", state_topic = "p/s" }"#,
        ));
        assert!(
            e.contains("m.toml:5:29") && e.contains("component \"light\" is not mirrored"),
            "{e}"
        );
        let e = err(&one(
            r#"{ name = "t", component = "sensor", state_topic = "p/s", command_topic = "p/c" }"#,
        ));
        assert!(
            e.contains("m.toml:5:76") && e.contains("takes no commands"),
            "{e}"
        );
        let e = err(&one(
            r#"{ name = "t", component = "number", state_topic = "p/s", payload_on = "1" }"#,
        ));
        assert!(
            e.contains("m.toml:5:73") && e.contains("no on and off"),
            "{e}"
        );
        let e = err(&one(
            r#"{ name = "p", component = "switch", state_topic = "p/s", payload_on = "X", payload_off = "X" }"#,
        ));
        assert!(
            e.contains("m.toml:5:92") && e.contains("must differ"),
            "{e}"
        );
        let e = err(&one(
            r#"{ name = "t", component = "sensor", state_topic = "p/+" }"#,
        ));
        assert!(e.contains("m.toml:5:53") && e.contains("one topic"), "{e}");
        let e = err(&one(
            r#"{ name = "t", component = "sensor", state_topic = "p/s", unit = "C" }"#,
        ));
        assert!(e.contains("m.toml:5") && e.contains("unknown field"), "{e}");
        let e = err(&one(
            r#"{ name = "a b", component = "sensor", state_topic = "p/s" }"#,
        ));
        assert!(
            e.contains("m.toml:5:12") && e.contains("letters, digits"),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}entities = [\n  {{ name = \"t\", component = \"sensor\", state_topic = \"p/s\" }},\n  {{ name = \"t\", component = \"sensor\", state_topic = \"p/u\" }},\n]\n"
        ));
        assert!(e.contains("m.toml:6:12") && e.contains("used twice"), "{e}");
        let e = err(&format!(
            "{HEAD}availability_topic = \"p/s\"\nentities = [\n  {{ name = \"t\", component = \"sensor\", state_topic = \"p/s\" }},\n]\n"
        ));
        assert!(
            e.contains("m.toml:6:53") && e.contains("also the device's availability_topic"),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}payload_available = \"x\"\npayload_not_available = \"x\"\nentities = [\n  {{ name = \"t\", component = \"sensor\", state_topic = \"p/s\" }},\n]\n"
        ));
        assert!(
            e.contains("m.toml:5:25") && e.contains("must differ"),
            "{e}"
        );
        // Keys of the Home Assistant adapter are refused elsewhere, and the other way round.
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"esphome\"\nnode = \"n\"\navailability_topic = \"n/status\"\n",
        );
        assert!(
            e.contains("m.toml:5:22") && e.contains("(it is for homeassistant)"),
            "{e}"
        );
        let e = err(&format!(
            "{HEAD}topic = \"x\"\nentities = [\n  {{ name = \"t\", component = \"sensor\", state_topic = \"p/s\" }},\n]\n"
        ));
        assert!(
            e.contains("m.toml:4:9") && e.contains("not a setting of adapter \"homeassistant\""),
            "{e}"
        );
    }
}
