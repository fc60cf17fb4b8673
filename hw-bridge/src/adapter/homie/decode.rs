//! Homie 4 and 5: `{base}/{device}/$state` (`ready`, or `lost` by last will),
//! property values on `{base}/{device}/{node}/{property}` (retained), commands on
//! `…/{property}/set`. `base` is `homie` for Homie 4 and `homie/5` for Homie 5, whose
//! topics otherwise read the same.
//!
//! A property is named `{node}_{property}` (Homie ids are lower-case letters, digits and
//! hyphens, so the underscore is never ambiguous), or as `readings`/`state` name it:
//! `readings = { temperature = "sensor/temperature" }`.

use crate::adapter::event::{Command, Event, Outcome};
use crate::adapter::words::{text, value_text};
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) fn filters(base: &str, device: &str) -> Vec<String> {
    vec![
        format!("{base}/{device}/$state"),
        format!("{base}/{device}/+/+"),
    ]
}

pub(crate) fn decode(
    base: &str,
    device: &str,
    names: &BTreeMap<String, String>,
    topic: &str,
    payload: &[u8],
) -> Outcome {
    let Some(rest) = topic
        .strip_prefix(base)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_prefix(device))
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Outcome::NotMine;
    };
    let text = match text(payload) {
        Ok(s) => s.trim(),
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    };
    if rest == "$state" {
        return match text {
            "ready" => Outcome::Events(vec![Event::Online(true)]),
            "lost" | "disconnected" => Outcome::Events(vec![Event::Online(false)]),
            "init" | "sleeping" | "alert" => Outcome::Events(Vec::new()),
            other => Outcome::Malformed(format!("{topic}: unknown $state {other:.40}")),
        };
    }
    let Some((node, prop)) = rest.split_once('/') else {
        return Outcome::NotMine;
    };
    // Attributes ($name, $properties, $datatype…) describe; they are not values.
    if node.starts_with('$') || prop.starts_with('$') || prop.contains('/') {
        return Outcome::Events(Vec::new());
    }
    let path = format!("{node}/{prop}");
    let name = if names.is_empty() {
        format!("{node}_{prop}")
    } else {
        match names.iter().find(|(_, p)| **p == path) {
            Some((n, _)) => n.clone(),
            None => return Outcome::Events(Vec::new()),
        }
    };
    // Homie payloads are typed by $datatype; read them by shape: booleans are the
    // literal words, numbers parse, anything else is a state text.
    let event = match text {
        "true" => Event::State(name, Value::Bool(true)),
        "false" => Event::State(name, Value::Bool(false)),
        _ => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Event::Reading(name, v),
            Ok(_) => {
                return Outcome::Malformed(format!("{topic}: {text:.40} is not a finite number"));
            }
            Err(_) if text.is_empty() => return Outcome::Events(Vec::new()),
            Err(_) => Event::State(name, Value::String(text.to_string())),
        },
    };
    Outcome::Events(vec![event])
}

pub(crate) fn command(
    base: &str,
    device: &str,
    names: &BTreeMap<String, String>,
    key: &str,
    value: &Value,
) -> Result<Command, String> {
    let path = match names.get(key) {
        Some(p) => p.clone(),
        None => match key.split_once('_') {
            Some((node, prop)) => format!("{node}/{prop}"),
            None => {
                return Err(format!(
                    "\"{key}\" is not a Homie property: name it node_property, or map it in `state`"
                ));
            }
        },
    };
    // Homie booleans are `true`/`false`, not switch words.
    let payload = match crate::value::normalise(value) {
        Value::Bool(b) => b.to_string(),
        other => value_text(&other),
    };
    Ok(Command {
        topic: format!("{base}/{device}/{path}/set"),
        payload: payload.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(topic: &str, payload: &str) -> Outcome {
        decode(
            "homie",
            "greenhouse",
            &BTreeMap::new(),
            topic,
            payload.as_bytes(),
        )
    }

    #[test]
    fn values_state_and_attributes() {
        assert_eq!(
            d("homie/greenhouse/sensor/temperature", "23.5"),
            Outcome::Events(vec![Event::Reading("sensor_temperature".into(), 23.5)])
        );
        assert_eq!(
            d("homie/greenhouse/relay/on", "true"),
            Outcome::Events(vec![Event::State("relay_on".into(), json!(true))])
        );
        assert_eq!(
            d("homie/greenhouse/light/mode", "auto"),
            Outcome::Events(vec![Event::State("light_mode".into(), json!("auto"))])
        );
        assert_eq!(
            d("homie/greenhouse/$state", "ready"),
            Outcome::Events(vec![Event::Online(true)])
        );
        assert_eq!(
            d("homie/greenhouse/$state", "lost"),
            Outcome::Events(vec![Event::Online(false)])
        );
        assert_eq!(
            d("homie/greenhouse/sensor/$properties", "temperature"),
            Outcome::Events(vec![])
        );
        assert_eq!(
            d("homie/greenhouse/sensor/temperature/set", "1"),
            Outcome::Events(vec![])
        );
        assert_eq!(d("homie/other/sensor/temperature", "1"), Outcome::NotMine);
        assert!(matches!(
            d("homie/greenhouse/$state", "confused"),
            Outcome::Malformed(_)
        ));
        assert!(matches!(
            decode(
                "homie",
                "greenhouse",
                &BTreeMap::new(),
                "homie/greenhouse/sensor/temperature",
                &[0xff, 0xfe]
            ),
            Outcome::Malformed(_)
        ));
    }

    #[test]
    fn homie_5_and_named_properties() {
        let names = BTreeMap::from([("temperature".to_string(), "sensor/temperature".to_string())]);
        let o = decode(
            "homie/5",
            "greenhouse",
            &names,
            "homie/5/greenhouse/sensor/temperature",
            b"19.0",
        );
        assert_eq!(
            o,
            Outcome::Events(vec![Event::Reading("temperature".into(), 19.0)])
        );
        let o = decode(
            "homie/5",
            "greenhouse",
            &names,
            "homie/5/greenhouse/sensor/humidity",
            b"50",
        );
        assert_eq!(
            o,
            Outcome::Events(vec![]),
            "unnamed properties are left out once names are given"
        );
    }

    #[test]
    fn commands_go_to_set() {
        let none = BTreeMap::new();
        let c = command("homie", "greenhouse", &none, "relay_on", &json!("on")).expect("ok");
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("homie/greenhouse/relay/on/set", &b"true"[..])
        );
        let names = BTreeMap::from([("fan".to_string(), "vent/speed".to_string())]);
        let c = command("homie/5", "greenhouse", &names, "fan", &json!(3)).expect("ok");
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("homie/5/greenhouse/vent/speed/set", &b"3"[..])
        );
        assert!(command("homie", "greenhouse", &none, "power", &json!(true)).is_err());
    }
}
