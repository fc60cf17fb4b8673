//! Home Assistant MQTT discovery: the entities a device announced, each read from its
//! `state_topic` through its `value_template` (several may share one JSON payload), the
//! device's `availability_topic` with `payload_available`/`payload_not_available`, and
//! switches and numbers commanded on their `command_topic`.
//!
//! - `sensor`: a number, a reading;
//! - `binary_sensor` and `switch`: `payload_on`/`payload_off`, a state true or false;
//! - `number`: a number, both a reading and a state (so a desired value is confirmed).

use crate::adapter::event::{Command, Event, Outcome};
use crate::adapter::homeassistant::entity::{HaComponent, HaEntity, HomeAssistantConfig};
use crate::adapter::template::short;
use crate::adapter::words::{text, value_text};
use crate::error::BridgeError;
use serde_json::Value;

pub(crate) fn filters(c: &HomeAssistantConfig) -> Vec<String> {
    let mut f: Vec<String> = Vec::new();
    for t in c
        .availability_topic
        .iter()
        .chain(c.entities.iter().map(|e| &e.state_topic))
    {
        if !f.contains(t) {
            f.push(t.clone());
        }
    }
    f
}

pub(crate) fn decode(c: &HomeAssistantConfig, topic: &str, payload: &[u8]) -> Outcome {
    let text = match text(payload) {
        Ok(s) => s,
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    };
    if c.availability_topic.as_deref() == Some(topic) {
        let word = text.trim();
        return if word == c.payload_available {
            Outcome::Events(vec![Event::Online(true)])
        } else if word == c.payload_not_available {
            Outcome::Events(vec![Event::Online(false)])
        } else {
            Outcome::Malformed(format!(
                "{topic}: expected {} or {}, got {word:.40}",
                c.payload_available, c.payload_not_available
            ))
        };
    }
    let entities: Vec<&HaEntity> = c
        .entities
        .iter()
        .filter(|e| e.state_topic == topic)
        .collect();
    if entities.is_empty() {
        return Outcome::NotMine;
    }
    // Parsed once for all the entities that share the payload.
    let json = if entities.iter().any(|e| e.value_template.uses_json()) {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => Some(v),
            Err(e) => return Outcome::Malformed(format!("{topic}: not JSON ({e})")),
        }
    } else {
        None
    };
    let mut events = Vec::new();
    for e in entities {
        let value = match e.value_template.render(text, json.as_ref()) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(why) => {
                return Outcome::Malformed(format!(
                    "{topic}: {} ({}): {why}",
                    e.name, e.value_template
                ));
            }
        };
        match entity_events(e, &value) {
            Ok(ev) => events.extend(ev),
            Err(why) => return Outcome::Malformed(format!("{topic}: {}: {why}", e.name)),
        }
    }
    Outcome::Events(events)
}

/// What one entity's value says.
fn entity_events(e: &HaEntity, value: &Value) -> Result<Vec<Event>, BridgeError> {
    if e.component.is_switch() {
        let word = match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => return Ok(vec![Event::State(e.name.clone(), Value::Bool(*b))]),
            other => other.to_string(),
        };
        return if word == e.payload_on {
            Ok(vec![Event::State(e.name.clone(), Value::Bool(true))])
        } else if word == e.payload_off {
            Ok(vec![Event::State(e.name.clone(), Value::Bool(false))])
        } else if word.trim().is_empty() {
            Ok(Vec::new())
        } else {
            Err(BridgeError::Malformed(format!(
                "expected {} or {}, got {}",
                e.payload_on,
                e.payload_off,
                short(value)
            )))
        };
    }
    if e.component == HaComponent::Select {
        return match value {
            Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
            Value::String(s) => Ok(vec![Event::State(e.name.clone(), Value::String(s.clone()))]),
            other => Err(BridgeError::Malformed(format!(
                "expected one of the select's words, got {}",
                short(other)
            ))),
        };
    }
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            // Nothing to read: a failed read (ESPHome's `nan`), or no value yet.
            if s.is_empty() || s.eq_ignore_ascii_case("nan") {
                return Ok(Vec::new());
            }
            s.parse::<f64>().ok()
        }
        _ => None,
    };
    let Some(n) = n.filter(|n| n.is_finite()) else {
        return Err(BridgeError::Malformed(format!(
            "expected a number, got {}",
            short(value)
        )));
    };
    let mut ev = vec![Event::Reading(e.name.clone(), n)];
    if e.component == HaComponent::Number {
        ev.push(Event::State(e.name.clone(), Value::from(n)));
    }
    Ok(ev)
}

/// `text` put into the entity's `command_template` (at `{{ value }}`), or as it is.
fn templated(e: &HaEntity, text: &str) -> String {
    match &e.command_template {
        Some(t) => t.replace("{{ value }}", text),
        None => text.to_string(),
    }
}

pub(crate) fn command(
    c: &HomeAssistantConfig,
    key: &str,
    value: &Value,
) -> Result<Command, String> {
    let Some(e) = c.entities.iter().find(|e| e.name == key) else {
        let can: Vec<&str> = c
            .entities
            .iter()
            .filter(|e| e.command_topic.is_some())
            .map(|e| e.name.as_str())
            .collect();
        return Err(if can.is_empty() {
            format!("no entity \"{key}\", and none of this device's takes commands")
        } else {
            format!(
                "no entity \"{key}\"; the commandable ones are {}",
                can.join(", ")
            )
        });
    };
    let Some(topic) = &e.command_topic else {
        return Err(format!(
            "{key} is a {} without a command_topic: it takes no commands",
            e.component.name()
        ));
    };
    let normalised = crate::value::normalise(value);
    let payload = match e.component {
        HaComponent::Number => match &normalised {
            Value::Number(_) => templated(e, &value_text(&normalised)),
            other => return Err(format!("{key} is a number, not {other}")),
        },
        HaComponent::Select => match &normalised {
            Value::String(w) => templated(e, w),
            other => return Err(format!("{key} is a select: expected a word, not {other}")),
        },
        _ => match crate::value::as_reading(&normalised) {
            Some(1.0) => e.payload_on.clone(),
            Some(0.0) => e.payload_off.clone(),
            _ => {
                return Err(format!(
                    "{key} is a switch: expected on or off, not {value}"
                ));
            }
        },
    };
    Ok(Command {
        topic: topic.clone(),
        payload: payload.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::template::ValueTemplate;
    use serde_json::json;

    fn entity(name: &str, component: HaComponent, state: &str, template: &str) -> HaEntity {
        HaEntity {
            name: name.into(),
            component,
            state_topic: state.into(),
            command_topic: None,
            value_template: ValueTemplate::parse(template).expect("valid template"),
            payload_on: "ON".into(),
            payload_off: "OFF".into(),
            command_template: None,
        }
    }

    fn cfg() -> HomeAssistantConfig {
        let mut power = entity(
            "power",
            HaComponent::Switch,
            "plug/state",
            "{{ value_json.power }}",
        );
        power.command_topic = Some("plug/relay/set".into());
        let mut target = entity("target", HaComponent::Number, "plug/target", "{{ value }}");
        target.command_topic = Some("plug/target/set".into());
        let mut door = entity(
            "door",
            HaComponent::BinarySensor,
            "plug/door",
            "{{ value }}",
        );
        (door.payload_on, door.payload_off) = ("open".into(), "closed".into());
        HomeAssistantConfig {
            availability_topic: Some("plug/status".into()),
            payload_available: "online".into(),
            payload_not_available: "offline".into(),
            entities: vec![
                entity(
                    "temperature",
                    HaComponent::Sensor,
                    "plug/state",
                    "{{ value_json.temperature }}",
                ),
                entity(
                    "humidity",
                    HaComponent::Sensor,
                    "plug/state",
                    "{{ value_json['env'].humidity | float | round(1) }}",
                ),
                power,
                target,
                door,
            ],
        }
    }

    fn d(topic: &str, payload: &str) -> Outcome {
        decode(&cfg(), topic, payload.as_bytes())
    }

    #[test]
    fn entities_sharing_a_json_payload_each_read_their_field() {
        assert_eq!(
            d(
                "plug/state",
                r#"{"temperature":21.5,"env":{"humidity":"44.06"},"power":"ON"}"#
            ),
            Outcome::Events(vec![
                Event::Reading("temperature".into(), 21.5),
                Event::Reading("humidity".into(), 44.1),
                Event::State("power".into(), json!(true)),
            ])
        );
        // A field left out is a failed read, not a broken message.
        assert_eq!(
            d("plug/state", r#"{"power":"OFF"}"#),
            Outcome::Events(vec![Event::State("power".into(), json!(false))])
        );
        assert_eq!(
            d("plug/state", r#"{"temperature":21.5,"power":true}"#),
            Outcome::Events(vec![
                Event::Reading("temperature".into(), 21.5),
                Event::State("power".into(), json!(true)),
            ])
        );
    }

    #[test]
    fn numbers_binary_sensors_and_availability() {
        assert_eq!(
            d("plug/target", "21.5"),
            Outcome::Events(vec![
                Event::Reading("target".into(), 21.5),
                Event::State("target".into(), json!(21.5)),
            ])
        );
        assert_eq!(d("plug/target", "nan"), Outcome::Events(vec![]));
        assert_eq!(
            d("plug/door", "open"),
            Outcome::Events(vec![Event::State("door".into(), json!(true))])
        );
        assert_eq!(
            d("plug/door", "closed"),
            Outcome::Events(vec![Event::State("door".into(), json!(false))])
        );
        assert_eq!(
            d("plug/status", "offline"),
            Outcome::Events(vec![Event::Online(false)])
        );
        assert_eq!(
            d("plug/status", "online\n"),
            Outcome::Events(vec![Event::Online(true)])
        );
        assert_eq!(d("plug/other", "1"), Outcome::NotMine);
    }

    #[test]
    fn junk_and_wrong_types_are_malformed() {
        for (topic, payload, why) in [
            ("plug/state", "not json", "not JSON"),
            ("plug/state", "\u{0}\u{1}", "not JSON"),
            (
                "plug/state",
                r#"{"temperature":"warm"}"#,
                "temperature: expected a number, got \"warm\"",
            ),
            ("plug/state", r#"{"temperature":[1]}"#, "expected a number"),
            ("plug/state", r#"{"temperature":true}"#, "expected a number"),
            (
                "plug/state",
                r#"{"env":{"humidity":"damp"}}"#,
                "humidity ({{ value_json['env'].humidity | float | round(1) }}): \"damp\" is not a number",
            ),
            (
                "plug/state",
                r#"{"power":"MAYBE"}"#,
                "power: expected ON or OFF",
            ),
            ("plug/state", r#"{"power":1}"#, "expected ON or OFF, got 1"),
            ("plug/target", "warm", "expected a number"),
            ("plug/target", "inf", "expected a number"),
            ("plug/door", "ajar", "expected open or closed"),
            ("plug/status", "gone", "expected online or offline"),
        ] {
            match d(topic, payload) {
                Outcome::Malformed(e) => assert!(e.contains(why), "{payload}: {e}"),
                other => panic!("{payload}: {other:?}"),
            }
        }
        let bytes = decode(&cfg(), "plug/state", &[0xff, 0xfe]);
        assert!(matches!(bytes, Outcome::Malformed(e) if e.contains("not UTF-8")));
    }

    #[test]
    fn filters_list_each_topic_once() {
        assert_eq!(
            filters(&cfg()),
            vec!["plug/status", "plug/state", "plug/target", "plug/door"]
        );
    }

    #[test]
    fn a_select_reads_its_word_and_commands_go_through_their_templates() {
        let mut mode = entity(
            "mode",
            HaComponent::Select,
            "pump/state",
            "{{ value_json.mode }}",
        );
        mode.command_topic = Some("pump/cmd".into());
        mode.command_template = Some(r#"{"set":{"mode":"{{ value }}"}}"#.into());
        let mut speed = entity(
            "speed",
            HaComponent::Number,
            "pump/state",
            "{{ value_json.speed }}",
        );
        speed.command_topic = Some("pump/cmd".into());
        speed.command_template = Some(r#"{"set":{"speed":{{ value }}}}"#.into());
        let c = HomeAssistantConfig {
            availability_topic: None,
            payload_available: "online".into(),
            payload_not_available: "offline".into(),
            entities: vec![mode, speed],
        };
        let Outcome::Events(ev) = decode(&c, "pump/state", br#"{"mode":"running","speed":40}"#)
        else {
            panic!("not read")
        };
        assert!(
            ev.contains(&Event::State("mode".into(), json!("running"))),
            "{ev:?}"
        );
        let sent = |key: &str, v: Value| {
            command(&c, key, &v).map(|c| String::from_utf8_lossy(&c.payload).into_owned())
        };
        assert_eq!(
            sent("mode", json!("stopped")).as_deref(),
            Ok(r#"{"set":{"mode":"stopped"}}"#)
        );
        assert_eq!(
            sent("speed", json!(55)).as_deref(),
            Ok(r#"{"set":{"speed":55}}"#)
        );
        assert!(sent("mode", json!(3)).unwrap_err().contains("is a select"));
        let Outcome::Malformed(why) = decode(&c, "pump/state", br#"{"mode":7}"#) else {
            panic!("a number is not a word")
        };
        assert!(why.contains("expected one of the select's words"), "{why}");
        assert!(super::super::entity::command_template("{{ value | int }}").is_err());
        assert!(super::super::entity::command_template("set {{ value }}").is_ok());
    }

    #[test]
    fn switches_and_numbers_take_commands() {
        let c = cfg();
        let sent = |key: &str, v: Value| {
            command(&c, key, &v)
                .map(|c| (c.topic, String::from_utf8_lossy(&c.payload).into_owned()))
        };
        assert_eq!(
            sent("power", json!("on")),
            Ok(("plug/relay/set".into(), "ON".into()))
        );
        assert_eq!(
            sent("power", json!(false)),
            Ok(("plug/relay/set".into(), "OFF".into()))
        );
        assert_eq!(
            sent("target", json!(21.5)),
            Ok(("plug/target/set".into(), "21.5".into()))
        );
        assert_eq!(
            sent("target", json!("22")),
            Ok(("plug/target/set".into(), "22".into()))
        );
        let refused = |key: &str, v: Value, why: &str| match sent(key, v) {
            Err(e) => assert!(e.contains(why), "{key}: {e}"),
            Ok(c) => panic!("{key}: {c:?}"),
        };
        refused("power", json!("dim"), "expected on or off");
        refused("target", json!(true), "is a number");
        refused("temperature", json!(1), "sensor without a command_topic");
        refused("fan", json!(true), "commandable ones are power, target");
    }

    #[test]
    fn custom_switch_words_are_sent_as_they_are() {
        let mut c = cfg();
        c.entities[2].payload_on = "1".into();
        c.entities[2].payload_off = "0".into();
        let cmd = command(&c, "power", &json!(true)).expect("a switch");
        assert_eq!(cmd.payload, b"1");
        // A templated number that is a switch word reads as one.
        assert_eq!(
            decode(&c, "plug/state", br#"{"power":0}"#),
            Outcome::Events(vec![Event::State("power".into(), json!(false))])
        );
    }
}
