//! An emulated MicroPython-style generic JSON sensor, for tests.

use crate::emulator::firmware::{Curve, Emulator, Firmware, Log, Msgs, spawn, text_will};
use serde_json::json;
use std::time::Duration;

struct JsonSensor {
    id: String,
    seq: u64,
    curve: Curve,
}

impl JsonSensor {
    fn telemetry(&mut self, t: f64, log: &mut Log) -> (String, Vec<u8>, bool) {
        log.published += 1;
        let seq = self.seq;
        self.seq += 1;
        let p = json!({
            "device_id": self.id, "seq": seq, "timestamp": sim_core::wire::unix_us() as f64 / 1e6,
            "temperature": ((self.curve)(t) * 100.0).round() / 100.0, "humidity": 41.5, "relay": log.switch_on,
        });
        (
            format!("sensors/{}/telemetry", self.id),
            p.to_string().into_bytes(),
            false,
        )
    }
}

impl Firmware for JsonSensor {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        (
            vec![format!("sensors/{}/cmd", self.id)],
            vec![(
                format!("sensors/{}/status", self.id),
                b"online".to_vec(),
                true,
            )],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        vec![self.telemetry(t, log)]
    }

    fn on_command(&mut self, _topic: &str, payload: &[u8], t: f64, log: &mut Log) -> Msgs {
        let v: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
        if let Some(on) = v
            .pointer("/set/relay")
            .map(crate::value::normalise)
            .and_then(|v| v.as_bool())
        {
            log.switch_on = on;
        }
        // Report the new state at once, as the firmware in hw-bridge/firmware does.
        vec![self.telemetry(t, log)]
    }
}

/// A MicroPython-style sensor: `{"device_id":…,"seq":…,"temperature":…,"relay":…}` on
/// `sensors/{id}/telemetry`, status on `sensors/{id}/status`, commands on
/// `sensors/{id}/cmd`.
pub fn json_sensor(url: &str, id: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("sensors/{id}/status");
    spawn(
        url,
        id,
        text_will(&will, "offline"),
        every,
        JsonSensor {
            id: id.into(),
            seq: 0,
            curve,
        },
    )
}
