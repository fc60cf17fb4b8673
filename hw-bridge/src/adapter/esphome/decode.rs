//! ESPHome's MQTT component: `{node}/status` (`online`, or `offline` by last will),
//! `{node}/sensor/{id}/state` (a number as text, `nan` when the read failed),
//! `{node}/switch/{id}/state` and `{node}/binary_sensor/{id}/state` (`ON`/`OFF`);
//! commands on `{node}/switch/{id}/command` and `{node}/number/{id}/command`.

use crate::adapter::event::{Command, Event, Outcome};
use crate::adapter::words::{online_word, switch_word, text, value_text};
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) fn filters(node: &str) -> Vec<String> {
    vec![
        format!("{node}/status"),
        format!("{node}/sensor/+/state"),
        format!("{node}/switch/+/state"),
        format!("{node}/binary_sensor/+/state"),
    ]
}

pub(crate) fn decode(
    node: &str,
    readings: &BTreeMap<String, String>,
    topic: &str,
    payload: &[u8],
) -> Outcome {
    let Some(rest) = topic.strip_prefix(node).and_then(|r| r.strip_prefix('/')) else {
        return Outcome::NotMine;
    };
    let text = match text(payload) {
        Ok(s) => s.trim(),
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    };
    if rest == "status" {
        return match online_word(text) {
            Some(on) => Outcome::Events(vec![Event::Online(on)]),
            None => Outcome::Malformed(format!(
                "{topic}: expected online or offline, got {text:.40}"
            )),
        };
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let [component, id, "state"] = parts[..] else {
        return Outcome::NotMine;
    };
    match component {
        "sensor" => {
            let name = if readings.is_empty() {
                Some(id.to_string())
            } else {
                readings
                    .iter()
                    .find(|(_, obj)| *obj == id)
                    .map(|(n, _)| n.clone())
            };
            let Some(name) = name else {
                return Outcome::Events(Vec::new());
            };
            // ESPHome publishes "nan" when a read failed: no reading, not a broken message.
            if text.eq_ignore_ascii_case("nan") {
                return Outcome::Events(Vec::new());
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Outcome::Events(vec![Event::Reading(name, v)]),
                _ => Outcome::Malformed(format!("{topic}: expected a number, got {text:.40}")),
            }
        }
        "switch" | "binary_sensor" => match online_word(text) {
            Some(on) => Outcome::Events(vec![Event::State(id.to_string(), Value::Bool(on))]),
            None => Outcome::Malformed(format!("{topic}: expected ON or OFF, got {text:.40}")),
        },
        _ => Outcome::NotMine,
    }
}

pub(crate) fn command(node: &str, key: &str, value: &Value) -> Command {
    let normalised = crate::value::normalise(value);
    if matches!(normalised, Value::Number(_)) {
        return Command {
            topic: format!("{node}/number/{key}/command"),
            payload: value_text(&normalised).into_bytes(),
        };
    }
    Command {
        topic: format!("{node}/switch/{key}/command"),
        payload: switch_word(value).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn states_sensors_and_status() {
        let none = BTreeMap::new();
        let d = |t: &str, p: &str| decode("kitchen", &none, t, p.as_bytes());
        assert_eq!(
            d("kitchen/sensor/kitchen_temperature/state", "22.40"),
            Outcome::Events(vec![Event::Reading("kitchen_temperature".into(), 22.4)])
        );
        assert_eq!(d("kitchen/sensor/x/state", "nan"), Outcome::Events(vec![]));
        assert_eq!(
            d("kitchen/switch/fan/state", "ON"),
            Outcome::Events(vec![Event::State("fan".into(), json!(true))])
        );
        assert_eq!(
            d("kitchen/status", "offline"),
            Outcome::Events(vec![Event::Online(false)])
        );
        assert!(matches!(
            d("kitchen/sensor/x/state", "warm"),
            Outcome::Malformed(_)
        ));
        assert!(matches!(d("kitchen/status", "{}"), Outcome::Malformed(_)));
        assert_eq!(d("kitchen2/status", "online"), Outcome::NotMine);
    }

    #[test]
    fn readings_can_be_renamed_and_limited() {
        let map = BTreeMap::from([("temperature".to_string(), "kitchen_temperature".to_string())]);
        let d = |t: &str, p: &str| decode("kitchen", &map, t, p.as_bytes());
        assert_eq!(
            d("kitchen/sensor/kitchen_temperature/state", "22.4"),
            Outcome::Events(vec![Event::Reading("temperature".into(), 22.4)])
        );
        assert_eq!(
            d("kitchen/sensor/uptime/state", "100"),
            Outcome::Events(vec![])
        );
    }

    #[test]
    fn commands() {
        let c = command("kitchen", "fan", &json!(false));
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("kitchen/switch/fan/command", &b"OFF"[..])
        );
        let c = command("kitchen", "target", &json!(21.5));
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("kitchen/number/target/command", &b"21.5"[..])
        );
    }
}
