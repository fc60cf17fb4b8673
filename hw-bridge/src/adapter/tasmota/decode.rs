//! Tasmota: `tele/{t}/SENSOR` (readings by sensor, `{"AM2301":{"Temperature":21.3}}`),
//! `tele/{t}/STATE` (`POWER`, Wi-Fi signal), `tele/{t}/LWT` (`Online`/`Offline`, retained,
//! the last will), `stat/{t}/POWER` and `stat/{t}/RESULT` (the answer to a command);
//! commands on `cmnd/{t}/POWER`.

use crate::adapter::event::{Command, Event, Outcome};
use crate::adapter::words::{online_word, switch_word, text, value_text};
use crate::error::BridgeError;
use serde_json::Value;

/// Fields of a SENSOR message that are not readings.
const NOT_READINGS: &[&str] = &["Time", "TempUnit", "PressureUnit", "SpeedUnit", "Id"];

/// Keys whose values must be numbers: a string there is a broken payload.
const NUMERIC: &[&str] = &[
    "Temperature",
    "Humidity",
    "Pressure",
    "DewPoint",
    "Power",
    "Voltage",
    "Current",
    "Total",
    "Today",
    "Yesterday",
    "Illuminance",
];

pub(crate) fn filters(t: &str) -> Vec<String> {
    vec![format!("tele/{t}/+"), format!("stat/{t}/+")]
}

pub(crate) fn decode(t: &str, topic: &str, payload: &[u8]) -> Outcome {
    let Some((prefix, rest)) = topic.split_once('/') else {
        return Outcome::NotMine;
    };
    let Some(kind) = rest.strip_prefix(t).and_then(|r| r.strip_prefix('/')) else {
        return Outcome::NotMine;
    };
    let text = match text(payload) {
        Ok(s) => s,
        Err(e) => return Outcome::Malformed(format!("{topic}: {e}")),
    };
    match (prefix, kind) {
        ("tele", "LWT") => match online_word(text) {
            Some(on) => Outcome::Events(vec![Event::Online(on)]),
            None => Outcome::Malformed(format!(
                "{topic}: expected Online or Offline, got {:.40}",
                text
            )),
        },
        ("tele", "SENSOR") => match object(topic, text) {
            Ok(o) => sensor(topic, &o),
            Err(e) => Outcome::Malformed(e.to_string()),
        },
        ("tele", "STATE") | ("stat", "RESULT") => match object(topic, text) {
            Ok(o) => {
                let mut ev = powers(&o);
                if let Some(rssi) = o
                    .get("Wifi")
                    .and_then(|w| w.get("RSSI"))
                    .and_then(Value::as_f64)
                {
                    ev.push(Event::Reading("rssi".into(), rssi));
                }
                Outcome::Events(ev)
            }
            Err(e) => Outcome::Malformed(e.to_string()),
        },
        ("stat", k) if k.starts_with("POWER") => match online_word(text) {
            Some(on) => {
                Outcome::Events(vec![Event::State(k.to_ascii_lowercase(), Value::Bool(on))])
            }
            None => Outcome::Malformed(format!("{topic}: expected ON or OFF, got {:.40}", text)),
        },
        // INFO1..3, UPTIME, STATUS*, …: nothing the twin uses.
        _ => Outcome::Events(Vec::new()),
    }
}

/// The message as a JSON object, or why it is not one.
fn object(topic: &str, text: &str) -> Result<serde_json::Map<String, Value>, BridgeError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(other) => Err(BridgeError::Malformed(format!(
            "{topic}: expected a JSON object, got {}",
            kind(&other)
        ))),
        Err(e) => Err(BridgeError::Malformed(format!("{topic}: not JSON ({e})"))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POWER`, `POWER1`… as switch states `power`, `power1`….
fn powers(o: &serde_json::Map<String, Value>) -> Vec<Event> {
    o.iter()
        .filter(|(k, _)| k.starts_with("POWER"))
        .filter_map(|(k, v)| {
            let on = online_word(v.as_str()?)?;
            Some(Event::State(k.to_ascii_lowercase(), Value::Bool(on)))
        })
        .collect()
}

/// Readings of a SENSOR message: each sensor's numbers under their lower-case names; a
/// name two sensors share is prefixed with the sensor (`ds18b20_temperature`).
fn sensor(topic: &str, o: &serde_json::Map<String, Value>) -> Outcome {
    let mut out: Vec<Event> = Vec::new();
    let mut push = |sensor: Option<&str>, key: &str, v: &Value| -> Result<(), BridgeError> {
        let value = match v {
            Value::Number(n) => n.as_f64().filter(|f| f.is_finite()),
            _ => None,
        };
        let Some(value) = value else {
            if NUMERIC.contains(&key) {
                return Err(BridgeError::Malformed(format!(
                    "{topic}: {}{key} is {}, expected a number",
                    sensor.map(|s| format!("{s}.")).unwrap_or_default(),
                    kind(v)
                )));
            }
            return Ok(());
        };
        let mut name = match key {
            "Total" | "Today" | "Yesterday" => format!("energy_{}", key.to_ascii_lowercase()),
            k => k.to_ascii_lowercase(),
        };
        if out
            .iter()
            .any(|e| matches!(e, Event::Reading(n, _) if *n == name))
            && let Some(s) = sensor
        {
            name = format!("{}_{name}", s.to_ascii_lowercase());
        }
        out.push(Event::Reading(name, value));
        Ok(())
    };
    for (k, v) in o {
        if NOT_READINGS.contains(&k.as_str()) {
            continue;
        }
        let r = match v {
            Value::Object(inner) => inner
                .iter()
                .filter(|(ik, _)| !NOT_READINGS.contains(&ik.as_str()))
                .try_for_each(|(ik, iv)| push(Some(k), ik, iv)),
            other => push(None, k, other),
        };
        if let Err(e) = r {
            return Outcome::Malformed(e.to_string());
        }
    }
    Outcome::Events(out)
}

pub(crate) fn command(t: &str, key: &str, value: &Value) -> Command {
    let lower = key.to_ascii_lowercase();
    if lower.starts_with("power") {
        return Command {
            topic: format!("cmnd/{t}/{}", key.to_ascii_uppercase()),
            payload: switch_word(value).into_bytes(),
        };
    }
    Command {
        topic: format!("cmnd/{t}/{key}"),
        payload: value_text(value).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(topic: &str, payload: &str) -> Outcome {
        decode("plug", topic, payload.as_bytes())
    }

    #[test]
    fn sensor_readings_from_a_dht22() {
        let o = ev(
            "tele/plug/SENSOR",
            r#"{"Time":"2026-11-23T10:00:00","AM2301":{"Temperature":21.3,"Humidity":45.2,"DewPoint":9.1},"TempUnit":"C"}"#,
        );
        assert_eq!(
            o,
            // serde_json keeps keys sorted.
            Outcome::Events(vec![
                Event::Reading("dewpoint".into(), 9.1),
                Event::Reading("humidity".into(), 45.2),
                Event::Reading("temperature".into(), 21.3),
            ])
        );
    }

    #[test]
    fn two_sensors_with_one_reading_name_are_told_apart() {
        let o = ev(
            "tele/plug/SENSOR",
            r#"{"AM2301":{"Temperature":21.3},"DS18B20":{"Id":"0316A2","Temperature":19.5},"ENERGY":{"Power":120,"Total":1.5}}"#,
        );
        let Outcome::Events(e) = o else {
            panic!("{o:?}")
        };
        assert!(e.contains(&Event::Reading("temperature".into(), 21.3)));
        assert!(e.contains(&Event::Reading("ds18b20_temperature".into(), 19.5)));
        assert!(e.contains(&Event::Reading("power".into(), 120.0)));
        assert!(e.contains(&Event::Reading("energy_total".into(), 1.5)));
    }

    #[test]
    fn state_lwt_and_command_answers() {
        assert_eq!(
            ev("tele/plug/STATE", r#"{"POWER":"ON","Wifi":{"RSSI":78}}"#),
            Outcome::Events(vec![
                Event::State("power".into(), json!(true)),
                Event::Reading("rssi".into(), 78.0)
            ])
        );
        assert_eq!(
            ev("tele/plug/LWT", "Offline"),
            Outcome::Events(vec![Event::Online(false)])
        );
        assert_eq!(
            ev("stat/plug/POWER", "OFF"),
            Outcome::Events(vec![Event::State("power".into(), json!(false))])
        );
        assert_eq!(
            ev("stat/plug/RESULT", r#"{"POWER2":"ON"}"#),
            Outcome::Events(vec![Event::State("power2".into(), json!(true))])
        );
        assert_eq!(ev("tele/other/SENSOR", "{}"), Outcome::NotMine);
    }

    #[test]
    fn broken_payloads_are_malformed() {
        for (t, p) in [
            ("tele/plug/SENSOR", "{\"AM2301\":{\"Temperature\":\"hot\"}}"),
            ("tele/plug/SENSOR", "[1,2]"),
            ("tele/plug/SENSOR", "{not json"),
            ("tele/plug/LWT", "maybe"),
            ("stat/plug/POWER", "blue"),
        ] {
            assert!(matches!(ev(t, p), Outcome::Malformed(_)), "{t} {p}");
        }
        assert!(matches!(
            decode("plug", "tele/plug/SENSOR", &[0xff, 0xfe, 0x00]),
            Outcome::Malformed(_)
        ));
    }

    #[test]
    fn commands_use_tasmota_words() {
        let c = command("plug", "power", &json!(true));
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("cmnd/plug/POWER", &b"ON"[..])
        );
        let c = command("plug", "power2", &json!("toggle"));
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("cmnd/plug/POWER2", &b"TOGGLE"[..])
        );
        let c = command("plug", "Dimmer", &json!(40));
        assert_eq!(
            (c.topic.as_str(), c.payload.as_slice()),
            ("cmnd/plug/Dimmer", &b"40"[..])
        );
    }
}
