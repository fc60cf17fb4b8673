//! An emulated Tasmota plug with an AM2301 (DHT22), for tests.

use crate::emulator::firmware::{Curve, Emulator, Firmware, Log, Msgs, spawn, text_will};
use serde_json::json;
use std::time::Duration;

struct Tasmota {
    topic: String,
    curve: Curve,
}

impl Tasmota {
    fn power(&self, on: bool) -> Msgs {
        let word = if on { "ON" } else { "OFF" };
        vec![
            (
                format!("stat/{}/RESULT", self.topic),
                json!({"POWER": word}).to_string().into_bytes(),
                false,
            ),
            (
                format!("stat/{}/POWER", self.topic),
                word.as_bytes().to_vec(),
                false,
            ),
        ]
    }
}

impl Firmware for Tasmota {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let t = &self.topic;
        let discovery = json!({"ip": "127.0.0.1", "dn": "Emulated plug", "hn": t, "mac": "5CCF7F0000AA", "md": "Sonoff S31", "t": t, "ft": "%prefix%/%topic%/", "tp": ["cmnd", "stat", "tele"]});
        (
            vec![format!("cmnd/{t}/+")],
            vec![
                (format!("tele/{t}/LWT"), b"Online".to_vec(), true),
                (
                    "tasmota/discovery/5CCF7F0000AA/config".into(),
                    discovery.to_string().into_bytes(),
                    true,
                ),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        let temp = ((self.curve)(t) * 10.0).round() / 10.0;
        let power = if log.switch_on { "ON" } else { "OFF" };
        vec![
            (
                format!("tele/{}/SENSOR", self.topic),
                json!({"Time": "2026-11-23T10:00:00", "AM2301": {"Temperature": temp, "Humidity": 45.0, "DewPoint": 9.0}, "TempUnit": "C"}).to_string().into_bytes(),
                false,
            ),
            (
                format!("tele/{}/STATE", self.topic),
                json!({"Time": "2026-11-23T10:00:00", "POWER": power, "Wifi": {"RSSI": 76}}).to_string().into_bytes(),
                false,
            ),
        ]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        if topic != format!("cmnd/{}/POWER", self.topic) {
            return Vec::new();
        }
        log.switch_on = match String::from_utf8_lossy(payload)
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "ON" | "1" => true,
            "OFF" | "0" => false,
            "TOGGLE" | "2" => !log.switch_on,
            _ => return self.power(log.switch_on),
        };
        self.power(log.switch_on)
    }
}

/// A Tasmota plug with an AM2301 (DHT22) on topic `topic`, publishing SENSOR and STATE
/// every `every`, switching on `cmnd/{topic}/POWER`.
pub fn tasmota_plug(url: &str, topic: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("tele/{topic}/LWT");
    spawn(
        url,
        &format!("DVES_{topic}"),
        text_will(&will, "Offline"),
        every,
        Tasmota {
            topic: topic.into(),
            curve,
        },
    )
}
