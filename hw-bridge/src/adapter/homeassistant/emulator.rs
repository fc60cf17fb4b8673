//! An emulated plug that announces itself by Home Assistant MQTT discovery, for tests.

use crate::emulator::firmware::{Curve, Emulator, Firmware, Log, Msgs, spawn, text_will};
use serde_json::json;
use std::time::Duration;

struct HomeAssistant {
    id: String,
    curve: Curve,
}

impl HomeAssistant {
    /// `{id}/state`: every entity's value in one JSON payload, as many firmwares do.
    fn state(&self, t: f64, on: bool) -> (String, Vec<u8>, bool) {
        let p = json!({
            "temperature": ((self.curve)(t) * 100.0).round() / 100.0,
            "humidity": 45.04,
            "power": if on { "ON" } else { "OFF" },
        });
        (
            format!("{}/state", self.id),
            p.to_string().into_bytes(),
            false,
        )
    }
}

impl Firmware for HomeAssistant {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let id = &self.id;
        // Abbreviated keys and the `~` base topic, as compact firmware writes them.
        let device = json!({"ids": [format!("{id}-0001")], "name": id, "mdl": "Emulated plug"});
        let config = |component: &str, object: &str, entity: serde_json::Value| {
            let mut doc = json!({
                "~": id,
                "uniq_id": format!("{id}-{object}"),
                "stat_t": "~/state",
                "avty_t": "~/status",
                "dev": device,
            });
            if let (Some(d), serde_json::Value::Object(e)) = (doc.as_object_mut(), entity) {
                d.extend(e);
            }
            (
                format!("homeassistant/{component}/{id}/{object}/config"),
                doc.to_string().into_bytes(),
                true,
            )
        };
        (
            vec![format!("{id}/relay/set")],
            vec![
                config(
                    "sensor",
                    "temperature",
                    json!({"name": "Temperature", "val_tpl": "{{ value_json.temperature }}", "unit_of_meas": "°C", "dev_cla": "temperature"}),
                ),
                config(
                    "sensor",
                    "humidity",
                    json!({"name": "Humidity", "val_tpl": "{{ value_json['humidity'] | float | round(1) }}", "unit_of_meas": "%", "dev_cla": "humidity"}),
                ),
                config(
                    "switch",
                    "relay",
                    json!({"name": "Power", "val_tpl": "{{ value_json.power }}", "cmd_t": "~/relay/set", "pl_on": "ON", "pl_off": "OFF"}),
                ),
                (format!("{id}/status"), b"online".to_vec(), true),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        vec![self.state(t, log.switch_on)]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], t: f64, log: &mut Log) -> Msgs {
        if topic != format!("{}/relay/set", self.id) {
            return Vec::new();
        }
        // Home Assistant sends exactly payload_on or payload_off.
        match payload {
            b"ON" => log.switch_on = true,
            b"OFF" => log.switch_on = false,
            _ => return Vec::new(),
        }
        vec![self.state(t, log.switch_on)]
    }
}

/// A plug `id` that announces itself by Home Assistant MQTT discovery (retained,
/// abbreviated, with a `~` base topic `{id}`):
/// - `homeassistant/sensor/{id}/temperature/config` and `…/humidity/config`: sensors
///   read from `{id}/state` by `{{ value_json.temperature }}` and
///   `{{ value_json['humidity'] | float | round(1) }}`;
/// - `homeassistant/switch/{id}/relay/config`: a switch `{{ value_json.power }}` commanded
///   on `{id}/relay/set` with `ON`/`OFF`;
/// - all with `{id}/status` as availability topic: `online`, and `offline` by last will.
///
/// Every `every` it publishes `{"temperature":…,"humidity":45.04,"power":"ON"|"OFF"}` on
/// `{id}/state`, and again at once when switched. The device is named `{id}`, with
/// identifier `{id}-0001`.
pub fn homeassistant_device(url: &str, id: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("{id}/status");
    spawn(
        url,
        id,
        text_will(&will, "offline"),
        every,
        HomeAssistant {
            id: id.into(),
            curve,
        },
    )
}
