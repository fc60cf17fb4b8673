//! Generic JSON: what MicroPython `umqtt` and paho scripts publish, such as
//! `{"device_id":"pico-1","seq":7,"temperature":23.5,"relay":false}` on a topic of the
//! user's choice. Readings and states are found by JSON pointer; commands go out as
//! `{"set":{"relay":true}}`, the command payload of the wire contract.

use crate::adapter::event::{Command, Event, Outcome};
use crate::adapter::json::config::JsonConfig;
use crate::adapter::words::{online_word, text};
use serde_json::Value;

/// Top-level fields that name or number a message, not readings (used when no readings
/// are named, and by discovery).
pub(crate) const NOT_READINGS: &[&str] = &[
    "device_id",
    "id",
    "seq",
    "timestamp",
    "ts",
    "time",
    "sent_us",
];

pub(crate) fn filters(j: &JsonConfig) -> Vec<String> {
    let mut f = vec![j.topic.clone()];
    f.extend(j.status_topic.clone());
    f
}

pub(crate) fn decode(j: &JsonConfig, topic: &str, payload: &[u8]) -> Outcome {
    let text = match text(payload) {
        Ok(s) => s,
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    };
    if let Some(st) = &j.status_topic
        && rumqttc::matches(topic, st)
        && !rumqttc::matches(topic, &j.topic)
    {
        return match online_word(text) {
            Some(on) => Outcome::Events(vec![Event::Online(on)]),
            None => Outcome::Malformed(format!(
                "{topic}: expected online or offline, got {text:.40}"
            )),
        };
    }
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Outcome::Malformed(format!("{topic}: not JSON ({e})")),
    };
    if let Some(p) = &j.id_pointer {
        let id = match doc.pointer(p) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Outcome::NotMine,
        };
        if id != j.source_id {
            return Outcome::NotMine;
        }
    }
    let mut events = Vec::new();
    if j.readings.is_empty() {
        let Value::Object(o) = &doc else {
            return Outcome::Malformed(format!("{topic}: expected a JSON object"));
        };
        for (k, v) in o {
            if NOT_READINGS.contains(&k.as_str())
                || j.state
                    .values()
                    .any(|p| p.strip_prefix('/') == Some(k.as_str()))
            {
                continue;
            }
            if let Some(f) = v.as_f64().filter(|f| f.is_finite()) {
                events.push(Event::Reading(k.clone(), f));
            }
        }
    } else {
        for (name, p) in &j.readings {
            match doc.pointer(p) {
                // A failed sensor read often leaves the field out or null: no reading.
                None | Some(Value::Null) => {}
                Some(Value::Number(n)) => match n.as_f64().filter(|f| f.is_finite()) {
                    Some(f) => events.push(Event::Reading(name.clone(), f)),
                    None => {
                        return Outcome::Malformed(format!("{topic}: {p} is not a finite number"));
                    }
                },
                Some(other) => {
                    return Outcome::Malformed(format!(
                        "{topic}: {p} is {}, expected a number",
                        short(other)
                    ));
                }
            }
        }
    }
    for (key, p) in &j.state {
        if let Some(v) = doc.pointer(p).filter(|v| !v.is_null()) {
            events.push(Event::State(key.clone(), crate::value::normalise(v)));
        }
    }
    if let Some(seq) = doc.get("seq").and_then(Value::as_u64) {
        events.push(Event::Seq(seq));
    }
    Outcome::Events(events)
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", &s[..s.floor_char_boundary(40)])
    } else {
        s
    }
}

pub(crate) fn command(j: &JsonConfig, key: &str, value: &Value) -> Result<Command, String> {
    let Some(topic) = &j.command_topic else {
        return Err("this device has no command_topic in the mirror config".into());
    };
    let payload = serde_json::json!({ "set": { key: value } });
    Ok(Command {
        topic: topic.clone(),
        payload: payload.to_string().into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn cfg() -> JsonConfig {
        JsonConfig {
            topic: "sensors/temperature".into(),
            id_pointer: Some("/device_id".into()),
            source_id: "pico-1".into(),
            readings: BTreeMap::from([("temperature".into(), "/temperature".into())]),
            state: BTreeMap::from([("relay".into(), "/relay".into())]),
            status_topic: Some("sensors/pico-1/status".into()),
            command_topic: Some("sensors/pico-1/cmd".into()),
        }
    }

    #[test]
    fn readings_state_and_seq_by_pointer() {
        let o = decode(
            &cfg(),
            "sensors/temperature",
            br#"{"device_id":"pico-1","seq":4,"temperature":23.5,"unit":"Celsius","relay":"ON"}"#,
        );
        assert_eq!(
            o,
            Outcome::Events(vec![
                Event::Reading("temperature".into(), 23.5),
                Event::State("relay".into(), json!(true)),
                Event::Seq(4)
            ])
        );
    }

    #[test]
    fn other_devices_on_a_shared_topic_are_not_mine() {
        let o = decode(
            &cfg(),
            "sensors/temperature",
            br#"{"device_id":"pico-2","temperature":1}"#,
        );
        assert_eq!(o, Outcome::NotMine);
    }

    #[test]
    fn wrong_types_and_junk_are_malformed() {
        for p in [
            &br#"{"device_id":"pico-1","temperature":"warm"}"#[..],
            &br#"{"device_id":"pico-1","temperature":[1]}"#[..],
            b"\x00\x01\x02",
            b"{\"device_id\":",
        ] {
            assert!(
                matches!(
                    decode(&cfg(), "sensors/temperature", p),
                    Outcome::Malformed(_)
                ),
                "{p:?}"
            );
        }
        // A missing reading is a failed read, not a broken message.
        assert_eq!(
            decode(&cfg(), "sensors/temperature", br#"{"device_id":"pico-1"}"#),
            Outcome::Events(vec![])
        );
    }

    #[test]
    fn every_number_when_no_readings_are_named() {
        let mut c = cfg();
        c.readings.clear();
        c.id_pointer = None;
        let Outcome::Events(e) = decode(
            &c,
            "sensors/temperature",
            br#"{"device_id":"x","seq":1,"temperature":20.5,"humidity":40,"relay":true}"#,
        ) else {
            panic!()
        };
        assert!(e.contains(&Event::Reading("temperature".into(), 20.5)));
        assert!(e.contains(&Event::Reading("humidity".into(), 40.0)));
        assert!(
            !e.iter()
                .any(|x| matches!(x, Event::Reading(n, _) if n == "seq" || n == "relay"))
        );
    }

    #[test]
    fn status_and_commands() {
        assert_eq!(
            decode(&cfg(), "sensors/pico-1/status", b"offline"),
            Outcome::Events(vec![Event::Online(false)])
        );
        let c = command(&cfg(), "relay", &json!(true)).expect("has a command topic");
        assert_eq!(c.topic, "sensors/pico-1/cmd");
        assert_eq!(
            serde_json::from_slice::<Value>(&c.payload).ok(),
            Some(json!({"set":{"relay":true}}))
        );
        let mut no_cmd = cfg();
        no_cmd.command_topic = None;
        assert!(command(&no_cmd, "relay", &json!(true)).is_err());
    }
}
