//! An emulated Homie 4 device, for tests.

use crate::emulator::firmware::{Curve, Emulator, Firmware, Log, Msgs, spawn, text_will};
use std::time::Duration;

struct Homie {
    id: String,
    curve: Curve,
}

impl Homie {
    fn relay(&self, on: bool) -> (String, Vec<u8>, bool) {
        (
            format!("homie/{}/relay/on", self.id),
            on.to_string().into_bytes(),
            true,
        )
    }
}

impl Firmware for Homie {
    fn on_connect(&mut self) -> (Vec<String>, Msgs) {
        let d = format!("homie/{}", self.id);
        let retained = |t: &str, p: &str| (format!("{d}/{t}"), p.as_bytes().to_vec(), true);
        (
            vec![format!("{d}/+/+/set")],
            vec![
                retained("$homie", "4.0"),
                retained("$name", "Emulated greenhouse"),
                retained("$state", "init"),
                retained("$nodes", "sensor,relay"),
                retained("sensor/$name", "Climate"),
                retained("sensor/$properties", "temperature"),
                retained("sensor/temperature/$datatype", "float"),
                retained("sensor/temperature/$unit", "°C"),
                retained("relay/$name", "Relay"),
                retained("relay/$properties", "on"),
                retained("relay/on/$datatype", "boolean"),
                retained("relay/on/$settable", "true"),
                retained("relay/on", "false"),
                retained("$state", "ready"),
            ],
        )
    }

    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs {
        log.published += 1;
        vec![(
            format!("homie/{}/sensor/temperature", self.id),
            format!("{:.2}", (self.curve)(t)).into_bytes(),
            true,
        )]
    }

    fn on_command(&mut self, topic: &str, payload: &[u8], _t: f64, log: &mut Log) -> Msgs {
        if topic != format!("homie/{}/relay/on/set", self.id) {
            return Vec::new();
        }
        // Homie booleans are exactly `true` or `false`; anything else is ignored.
        match payload {
            b"true" => log.switch_on = true,
            b"false" => log.switch_on = false,
            _ => return Vec::new(),
        }
        vec![self.relay(log.switch_on)]
    }
}

/// A Homie 4 device `homie/{id}` with a `sensor/temperature` and a settable `relay/on`;
/// its last will sets `$state` to `lost`.
pub fn homie_device(url: &str, id: &str, every: Duration, curve: Curve) -> Emulator {
    let will = format!("homie/{id}/$state");
    spawn(
        url,
        id,
        text_will(&will, "lost"),
        every,
        Homie {
            id: id.into(),
            curve,
        },
    )
}
