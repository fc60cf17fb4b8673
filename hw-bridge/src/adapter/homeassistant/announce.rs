//! The twin side of Home Assistant MQTT discovery: for every device of a group with
//! `convention = "homeassistant"`, a retained config per reading, state and command, so
//! the simulated fleet shows up in Home Assistant (and in `twin mirror --discover`) as
//! real hardware would. Each entity reads the device's own telemetry JSON
//! (`{{ value_json.<reading> }}`), is available while the device's retained `status` says
//! `online`, and commands go to the device's command topic in the twin's own JSON, so
//! the sessions, the ingest and the grading are the same as for any twin.

use scenarios::{Convention, DeviceSpec, ModelKind, ModelSpec, Scenario, StateKind, fill_template};
use serde_json::{Value, json};
use sim_core::transport::announce::Announce;

/// Home Assistant's birth message, which asks every device to announce itself again.
pub const BIRTH: (&str, &str) = ("homeassistant/status", "online");

/// Every announcement of `s`'s Home Assistant groups (nothing when it has none).
pub fn announcements(s: &Scenario) -> Announce {
    let mut retained = Vec::new();
    for d in &s.devices {
        if s.groups[d.group].convention == Convention::HomeAssistant {
            retained.extend(device_configs(s, d));
        }
    }
    Announce {
        rebirth: (!retained.is_empty()).then(|| (BIRTH.0.to_string(), BIRTH.1.as_bytes().to_vec())),
        retained,
    }
}

/// One entity of a twin, before it is written as a config.
struct Entity {
    component: &'static str,
    key: String,
    extra: Value,
}

impl Entity {
    fn new(component: &'static str, key: &str, extra: Value) -> Entity {
        Entity {
            component,
            key: key.to_string(),
            extra,
        }
    }
}

/// `[a-zA-Z0-9_-]` only, as Home Assistant wants node and object ids.
fn id_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The retained configs of one device: topic and payload.
fn device_configs(s: &Scenario, d: &DeviceSpec) -> Vec<(String, Vec<u8>)> {
    let node = id_part(&format!("twin_{}_{}", s.fleet, d.id));
    let state_topic = fill_template(&s.mqtt.telemetry_topic, &s.fleet, &d.id);
    let status_topic = fill_template(&s.mqtt.status_topic, &s.fleet, &d.id);
    let command_topic = fill_template(&s.mqtt.command_topic, &s.fleet, &d.id);
    let kind = d.model.kind();
    let device = json!({
        "identifiers": [node.clone()],
        "name": d.id,
        "model": kind.name(),
        "manufacturer": "twinfleet (simulated)",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    entities(&d.model)
        .into_iter()
        .map(|e| {
            let object = id_part(&e.key);
            let mut doc = json!({
                "name": e.key.replace('_', " "),
                "unique_id": format!("{node}_{object}"),
                "object_id": format!("{}_{object}", id_part(&d.id)),
                "availability_topic": status_topic,
                "payload_available": "online",
                "payload_not_available": "offline",
                "device": device,
            });
            let m = doc.as_object_mut().expect("a JSON object");
            if e.component != "button" {
                m.insert("state_topic".into(), json!(state_topic));
                m.insert(
                    "value_template".into(),
                    json!(format!("{{{{ value_json.{} }}}}", e.key)),
                );
            }
            if let Value::Object(extra) = e.extra {
                for (k, v) in extra {
                    let v = if v == json!("<cmd>") {
                        json!(command_topic)
                    } else {
                        v
                    };
                    m.insert(k, v);
                }
            }
            let topic = format!("homeassistant/{}/{node}/{object}/config", e.component);
            (topic, doc.to_string().into_bytes())
        })
        .collect()
}

/// A sensor with its unit and Home Assistant device class.
fn sensor(key: &str, unit: &str, class: &str) -> Entity {
    let mut extra = json!({"unit_of_measurement": unit, "state_class": "measurement"});
    if !class.is_empty() {
        extra["device_class"] = json!(class);
    }
    if unit.is_empty() {
        extra
            .as_object_mut()
            .map(|m| m.remove("unit_of_measurement"));
    }
    Entity::new("sensor", key, extra)
}

/// A JSON boolean in the telemetry, as Home Assistant's template renders it.
fn binary(key: &str, class: &str) -> Entity {
    let mut extra = json!({"payload_on": "True", "payload_off": "False"});
    if !class.is_empty() {
        extra["device_class"] = json!(class);
    }
    Entity::new("binary_sensor", key, extra)
}

/// A boolean state that takes `{"set":{key:true|false}}`.
fn switch(key: &str) -> Entity {
    let set = |b: bool| json!({ "set": { key: b } }).to_string();
    Entity::new(
        "switch",
        key,
        json!({"command_topic": "<cmd>", "payload_on": set(true), "payload_off": set(false), "state_on": "True", "state_off": "False"}),
    )
}

/// A number state that takes `{"set":{key:<n>}}`.
fn number(key: &str, min: f64, max: f64, step: f64) -> Entity {
    let template = format!("{{\"set\":{{\"{key}\":{{{{ value }}}}}}}}");
    Entity::new(
        "number",
        key,
        json!({"command_topic": "<cmd>", "command_template": template, "min": min, "max": max, "step": step}),
    )
}

/// The entities of a model.
fn entities(model: &ModelSpec) -> Vec<Entity> {
    match model.kind() {
        ModelKind::Dht22 => vec![
            sensor("temperature", "°C", "temperature"),
            sensor("humidity", "%", "humidity"),
        ],
        ModelKind::Bme280 => vec![
            sensor("temperature", "°C", "temperature"),
            sensor("humidity", "%", "humidity"),
            sensor("pressure", "hPa", "pressure"),
        ],
        ModelKind::Ds18b20 => vec![sensor("temperature", "°C", "temperature")],
        ModelKind::Tmp36 => vec![
            sensor("temperature", "°C", "temperature"),
            sensor("raw", "", ""),
        ],
        ModelKind::Pir => vec![binary("motion", "motion"), sensor("motion_events", "", "")],
        ModelKind::PowerMeter => vec![
            sensor("power", "W", "power"),
            Entity::new(
                "sensor",
                "energy_kwh",
                json!({"unit_of_measurement": "kWh", "device_class": "energy", "state_class": "total_increasing"}),
            ),
            sensor("voltage", "V", "voltage"),
        ],
        ModelKind::SoilMoisture => vec![sensor("moisture", "%", "moisture"), sensor("raw", "", "")],
        ModelKind::Battery => vec![
            sensor("battery", "%", "battery"),
            sensor("voltage", "V", "voltage"),
        ],
        ModelKind::Relay | ModelKind::Led => vec![switch("on")],
        ModelKind::Heater => vec![switch("on"), sensor("power", "W", "power")],
        ModelKind::Thermostat => vec![
            sensor("temperature", "°C", "temperature"),
            number("setpoint", 5.0, 35.0, 0.5),
            binary("heating", "heat"),
            switch("enabled"),
        ],
        ModelKind::User(m) => user_entities(&m),
    }
}

/// A user model's readings as sensors, its states as switches, numbers and selects, and
/// its named commands as buttons.
fn user_entities(m: &scenarios::UserModel) -> Vec<Entity> {
    let mut out: Vec<Entity> = m
        .readings
        .iter()
        .map(|r| sensor(&r.name, r.unit.as_deref().unwrap_or(""), ""))
        .collect();
    for st in m.states.iter().filter(|s| s.publish) {
        out.push(match &st.kind {
            StateKind::Bool => switch(&st.name),
            StateKind::Number(r) => {
                let (lo, hi) = r.unwrap_or((-1e6, 1e6));
                number(&st.name, lo, hi, 0.1)
            }
            StateKind::Enum(words) => {
                let template = format!("{{\"set\":{{\"{}\":\"{{{{ value }}}}\"}}}}", st.name);
                Entity::new(
                    "select",
                    &st.name,
                    json!({"command_topic": "<cmd>", "command_template": template, "options": words}),
                )
            }
        });
    }
    for c in &m.commands {
        let payload = json!({ "command": c.name }).to_string();
        out.push(Entity::new(
            "button",
            &c.name,
            json!({"command_topic": "<cmd>", "payload_press": payload}),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::transport::session::parse_command;

    /// Every built-in model and a user model with every kind of state and a command.
    const FLEET: &str = r#"
[scenario]
name = "every model"
duration = "1h"

[[environment]]
name = "room"

[[models]]
name = "pump"
[models.state]
mode = { values = ["stopped", "running"], initial = "running" }
speed = { initial = 50, range = [0, 100] }
boost = { initial = false }
[models.commands]
stop = { mode = "stopped" }
[models.readings]
flow = { expr = 'if(mode == "running", speed, 0.0)', unit = "m3/h" }

[[devices]]
id = "d-{n}"
count = 12
model = "dht22"
environment = "room"
convention = "homeassistant"
"#;

    fn fleet() -> Scenario {
        let mut src = FLEET.to_string();
        for m in ModelKind::ALL.iter().map(ModelKind::name).chain(["pump"]) {
            let extra = match m {
                "thermostat" => "\nheater = \"x-heater\"",
                _ => "",
            };
            src.push_str(&format!(
                "\n[[devices]]\nid = \"x-{m}\"\nmodel = \"{m}\"\nenvironment = \"room\"\nconvention = \"homeassistant\"{extra}\n"
            ));
        }
        scenarios::parse(&src, "ha.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// Keys Home Assistant's MQTT integration requires of each component (and what a
    /// device registry entry needs), as its documentation lists them.
    fn required(component: &str) -> &'static [&'static str] {
        match component {
            "sensor" | "binary_sensor" => &["state_topic"],
            "switch" => &["command_topic", "state_topic"],
            "number" => &["command_topic", "state_topic", "min", "max"],
            "select" => &["command_topic", "state_topic", "options"],
            "button" => &["command_topic"],
            other => panic!("component {other} announced"),
        }
    }

    #[test]
    fn every_config_has_what_home_assistant_requires_and_commands_in_its_form_are_understood() {
        let s = fleet();
        let a = announcements(&s);
        // The same scenario announces the same bytes.
        assert_eq!(a, announcements(&fleet()));
        assert_eq!(
            a.rebirth,
            Some((BIRTH.0.into(), BIRTH.1.as_bytes().to_vec()))
        );
        let mut components = std::collections::BTreeSet::new();
        for (topic, payload) in &a.retained {
            let levels: Vec<&str> = topic.split('/').collect();
            let ["homeassistant", component, node, object, "config"] = levels[..] else {
                panic!("{topic}")
            };
            let id_ok = |p: &str| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c))
            };
            assert!(id_ok(node) && id_ok(object), "{topic}");
            let doc: Value = serde_json::from_slice(payload).unwrap();
            for key in ["unique_id", "availability_topic", "name"]
                .iter()
                .chain(required(component))
            {
                assert!(doc.get(key).is_some(), "{topic}: no {key} in {doc}");
            }
            assert!(
                doc["device"]["identifiers"][0].is_string() && doc["device"]["name"].is_string()
            );
            // The value template reads a key the device publishes.
            if let Some(t) = doc["value_template"].as_str() {
                let key = t
                    .trim_start_matches("{{ value_json.")
                    .trim_end_matches(" }}");
                let d = s
                    .devices
                    .iter()
                    .find(|d| node.ends_with(&id_part(&d.id)))
                    .unwrap();
                assert!(d.model.kind().readings().contains(&key), "{topic}: {key}");
            }
            // Each command, as Home Assistant would send it, is one the twin takes.
            let sent: Vec<String> = match component {
                "switch" => vec![
                    doc["payload_on"].as_str().unwrap().into(),
                    doc["payload_off"].as_str().unwrap().into(),
                ],
                "number" => vec![
                    doc["command_template"]
                        .as_str()
                        .unwrap()
                        .replace("{{ value }}", "22.5"),
                ],
                "select" => doc["options"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| {
                        doc["command_template"]
                            .as_str()
                            .unwrap()
                            .replace("{{ value }}", o.as_str().unwrap())
                    })
                    .collect(),
                "button" => vec![doc["payload_press"].as_str().unwrap().into()],
                _ => vec![],
            };
            for c in sent {
                assert!(parse_command(c.as_bytes()).is_some(), "{topic}: {c}");
            }
            components.insert(component.to_string());
        }
        let want = [
            "binary_sensor",
            "button",
            "number",
            "select",
            "sensor",
            "switch",
        ];
        assert_eq!(components.into_iter().collect::<Vec<_>>(), want);
        let unique: std::collections::HashSet<&String> =
            a.retained.iter().map(|(t, _)| t).collect();
        assert_eq!(unique.len(), a.retained.len(), "one config a topic");
    }

    #[test]
    fn a_fleet_without_the_convention_announces_nothing() {
        let src = FLEET.replace("convention = \"homeassistant\"", "");
        let s = scenarios::parse(&src, "plain.toml").unwrap();
        assert_eq!(announcements(&s), Announce::default());
    }
}
