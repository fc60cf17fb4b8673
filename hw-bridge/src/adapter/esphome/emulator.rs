//! An emulated ESPHome node, for tests.

use crate::emulator::firmware::{Curve, Emulator, Firmware, Log, Msgs, spawn, text_will};
use std::time::Duration;

struct Esphome {
    node: String,
    curve: Curve,
}

impl Firmware for Esphome {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let n = &self.node;
        (
            vec![format!("{n}/switch/+/command")],
            vec![
                (format!("{n}/status"), b"online".to_vec(), true),
                (format!("{n}/switch/fan/state"), b"OFF".to_vec(), true),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        vec![(
            format!("{}/sensor/{}_temperature/state", self.node, self.node),
            format!("{:.2}", (self.curve)(t)).into_bytes(),
            false,
        )]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        if topic != format!("{}/switch/fan/command", self.node) {
            return Vec::new();
        }
        log.switch_on = match String::from_utf8_lossy(payload)
            .trim()
            .to_ascii_uppercase()
            .as_str()
        {
            "ON" => true,
            "OFF" => false,
            "TOGGLE" => !log.switch_on,
            _ => log.switch_on,
        };
        let word: &[u8] = if log.switch_on { b"ON" } else { b"OFF" };
        vec![(
            format!("{}/switch/fan/state", self.node),
            word.to_vec(),
            true,
        )]
    }
}

/// An ESPHome node `node` with a temperature sensor `{node}_temperature` and a switch
/// `fan`.
pub fn esphome_node(url: &str, node: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("{node}/status");
    spawn(
        url,
        node,
        text_will(&will, "offline"),
        every,
        Esphome {
            node: node.into(),
            curve,
        },
    )
}
