//! `adapter = "homeassistant"`: a device that announces itself by Home Assistant MQTT
//! discovery. The mirror subscribes once, at start, so the entities the discovery
//! announced are written into the config (`twin mirror --discover` does it) and checked
//! here: one `{ name, component, state_topic, ... }` per entity.

use crate::adapter::homeassistant::entity::{
    DEFAULT_AVAILABLE, DEFAULT_NOT_AVAILABLE, DEFAULT_OFF, DEFAULT_ON, HaComponent, HaEntity,
    HomeAssistantConfig, valid_name,
};
use crate::adapter::template::ValueTemplate;
use crate::config::checks::DeviceCx;
use crate::config::raw::RawEntity;
use crate::error::BridgeError;
use std::collections::BTreeSet;
use std::ops::Range;
use toml::Spanned;

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &[
    "availability_topic",
    "payload_available",
    "payload_not_available",
    "entities",
];

/// Check a Home Assistant device's keys and each of its entities.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<HomeAssistantConfig, BridgeError> {
    let d = cx.raw;
    let availability_topic = match &d.availability_topic {
        Some(s) => Some(topic(cx, s, "availability_topic")?),
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
            cx,
            &payload_available,
            &payload_not_available,
            "`payload_available` and `payload_not_available`",
            s.span(),
        )?;
    }
    let Some(raw) = &d.entities else {
        return Err(cx.err(
            d.adapter.span(),
            "adapter \"homeassistant\" needs `entities`, like [{ name = \"temperature\", component = \"sensor\", state_topic = \"...\" }]".into(),
        ));
    };
    if raw.get_ref().is_empty() {
        return Err(cx.err(raw.span(), "`entities` is empty".into()));
    }
    let mut names = BTreeSet::new();
    let mut entities = Vec::with_capacity(raw.get_ref().len());
    for e in raw.get_ref() {
        entities.push(entity(
            cx,
            e.get_ref(),
            availability_topic.as_deref(),
            &mut names,
        )?);
    }
    Ok(HomeAssistantConfig {
        availability_topic,
        payload_available,
        payload_not_available,
        entities,
    })
}

/// Check one entity; `names` are the names taken by the entities before it.
fn entity(
    cx: &DeviceCx<'_>,
    e: &RawEntity,
    availability_topic: Option<&str>,
    names: &mut BTreeSet<String>,
) -> Result<HaEntity, BridgeError> {
    let name = e.name.get_ref().clone();
    if !valid_name(&name) {
        return Err(cx.err(
            e.name.span(),
            format!("entity name \"{name}\" must be letters, digits, '_' and '-'"),
        ));
    }
    if !names.insert(name.clone()) {
        return Err(cx.err(
            e.name.span(),
            format!("entity name \"{name}\" is used twice in this device"),
        ));
    }
    let component = HaComponent::from_name(e.component.get_ref()).ok_or_else(|| {
        cx.err(
            e.component.span(),
            format!(
                "component \"{}\" is not mirrored; expected one of {}",
                e.component.get_ref(),
                HaComponent::names()
            ),
        )
    })?;
    let state_topic = topic(cx, &e.state_topic, "state_topic")?;
    if availability_topic == Some(state_topic.as_str()) {
        return Err(cx.err(
            e.state_topic.span(),
            format!("`state_topic` \"{state_topic}\" is also the device's availability_topic"),
        ));
    }
    let command_topic = command_topic(cx, e, component)?;
    let (payload_on, payload_off) = switch_words(cx, e, component)?;
    let value_template = match &e.value_template {
        Some(s) => ValueTemplate::parse(s.get_ref()).map_err(|why| {
            cx.err(
                s.span(),
                format!("value_template \"{}\": {why}", s.get_ref()),
            )
        })?,
        None => ValueTemplate::payload(),
    };
    let command_template = match &e.command_template {
        Some(s) if !component.templated() => {
            return Err(cx.err(
                s.span(),
                format!(
                    "a {} takes no command_template: it is for number and select",
                    component.name()
                ),
            ));
        }
        Some(s) => Some(
            super::entity::command_template(s.get_ref()).map_err(|why| cx.err(s.span(), why))?,
        ),
        None => None,
    };
    Ok(HaEntity {
        name,
        component,
        state_topic,
        command_topic,
        value_template,
        payload_on,
        payload_off,
        command_template,
    })
}

/// An entity's `command_topic`: switches and numbers only.
fn command_topic(
    cx: &DeviceCx<'_>,
    e: &RawEntity,
    component: HaComponent,
) -> Result<Option<String>, BridgeError> {
    match &e.command_topic {
        Some(s) if !component.commandable() => Err(cx.err(
            s.span(),
            format!(
                "a {} takes no commands: `command_topic` is for switch, number and select",
                component.name()
            ),
        )),
        Some(s) => Ok(Some(topic(cx, s, "command_topic")?)),
        None => Ok(None),
    }
}

/// An entity's `payload_on` and `payload_off`: switches and binary sensors only, and
/// different from each other.
fn switch_words(
    cx: &DeviceCx<'_>,
    e: &RawEntity,
    component: HaComponent,
) -> Result<(String, String), BridgeError> {
    for s in [&e.payload_on, &e.payload_off].into_iter().flatten() {
        if !component.is_switch() {
            return Err(cx.err(
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
            cx,
            &payload_on,
            &payload_off,
            "`payload_on` and `payload_off`",
            s.span(),
        )?;
    }
    Ok((payload_on, payload_off))
}

/// A topic to read from or publish to: one exact topic, no wildcards.
fn topic(cx: &DeviceCx<'_>, s: &Spanned<String>, key: &str) -> Result<String, BridgeError> {
    let t = s.get_ref();
    if t.is_empty() || t.contains(['+', '#']) {
        return Err(cx.err(
            s.span(),
            format!("`{key}` \"{t}\" must be one topic, not empty and without '+' or '#'"),
        ));
    }
    Ok(t.clone())
}

/// A word as written, or Home Assistant's default.
fn word(v: &Option<Spanned<String>>, default: &str) -> String {
    v.as_ref()
        .map_or_else(|| default.to_string(), |s| s.get_ref().clone())
}

/// Two words that say opposite things must differ.
fn differ(
    cx: &DeviceCx<'_>,
    on: &str,
    off: &str,
    keys: &str,
    span: Range<usize>,
) -> Result<(), BridgeError> {
    if on == off {
        Err(cx.err(span, format!("{keys} are both \"{on}\": they must differ")))
    } else {
        Ok(())
    }
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
