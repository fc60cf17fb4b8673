//! Inputs shared by the twinfleet criterion benches (`benches/engine.rs`): a generated
//! fleet scenario of any size and typical telemetry payloads.
//!
//! They live here rather than in the bench file so the tests below can check that the
//! generated scenario parses and builds exactly the fleet the bench claims to measure.

use sim_core::wire::Value;

/// Devices in each room of [`fleet_toml`]: one of every sensor and actuator model that
/// lives in a room, plus a lamp on a relay-like LED output.
pub const DEVICES_PER_ROOM: usize = 10;

/// The longest `publish_every` in [`fleet_toml`], seconds. With the default jitter (one
/// period) every device has published once after this many 1 s ticks.
pub const LONGEST_PERIOD_S: u64 = 30;

/// A scenario file for a smart-building fleet of `devices` devices (a multiple of
/// [`DEVICES_PER_ROOM`]): one room per ten devices, each with a DHT22, a BME280, a DS18B20,
/// a TMP36, a PIR, a power meter, a relay, an LED, a heater and a thermostat that reads the
/// DHT22 and drives the heater. Tick 1 s, unpaced, 30 days long, so a bench never reaches
/// the end.
///
/// # Panics
///
/// If `devices` is not a positive multiple of [`DEVICES_PER_ROOM`].
pub fn fleet_toml(devices: usize) -> String {
    assert!(
        devices > 0 && devices.is_multiple_of(DEVICES_PER_ROOM),
        "fleet size {devices} is not a positive multiple of {DEVICES_PER_ROOM}"
    );
    let rooms = devices / DEVICES_PER_ROOM;
    let mut toml = format!(
        r#"[scenario]
name = "bench-{devices}"
seed = 42
duration = "30d"
tick = "1s"
speed = "max"

[[environment]]
name = "room-{{n}}"
count = {rooms}
"#
    );
    for (id, model, every, extra) in ROOM_DEVICES {
        toml.push_str(&format!(
            r#"
[[devices]]
id = "{id}-{{n}}"
count = {rooms}
model = "{model}"
environment = "room-{{n}}"
{extra}publish_every = "{every}"
"#
        ));
    }
    toml
}

/// The devices of one room in [`fleet_toml`]: id prefix, model, publish period, and keys
/// of the model's own.
const ROOM_DEVICES: [(&str, &str, &str, &str); DEVICES_PER_ROOM] = [
    ("dht", "dht22", "10s", ""),
    ("bme", "bme280", "10s", ""),
    ("ds", "ds18b20", "5s", ""),
    ("tmp", "tmp36", "5s", ""),
    ("pir", "pir", "10s", ""),
    ("meter", "power_meter", "10s", ""),
    ("relay", "relay", "30s", ""),
    ("lamp", "led", "30s", ""),
    ("heater", "heater", "30s", "power_w = 1500.0\n"),
    (
        "thermostat",
        "thermostat",
        "30s",
        "sensor = \"dht-{n}\"\nheater = \"heater-{n}\"\nsetpoint = 21.0\n",
    ),
];

/// Readings of a typical DHT22 node on a battery, as in the wire contract's example.
pub const DHT22_READINGS: &[(&str, Value)] = &[
    ("temperature", Value::Float(21.37)),
    ("humidity", Value::Float(44.1)),
    ("battery", Value::Int(87)),
];

/// Readings of a typical BME280 node.
pub const BME280_READINGS: &[(&str, Value)] = &[
    ("temperature", Value::Float(21.42)),
    ("humidity", Value::Float(44.37)),
    ("pressure", Value::Float(1013.18)),
];

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::sim::{Sim, SimIo};
    use sim_core::wire::{Decoded, Encoding, Payload};
    use std::collections::HashSet;

    #[test]
    fn generated_fleet_has_the_size_it_claims() {
        for n in [10, 1_000] {
            let s = scenarios::parse(&fleet_toml(n), "bench.toml").unwrap();
            assert_eq!(s.devices.len(), n);
            assert_eq!(s.environments.len(), n / DEVICES_PER_ROOM);
            assert_eq!(s.tick, 1.0);
        }
    }

    #[test]
    fn every_device_publishes_within_the_warm_up() {
        let n = 1_000;
        let s = scenarios::parse(&fleet_toml(n), "bench.toml").unwrap();
        let (io, mut outbox_rx, _cmd_tx, _sessions_rx) = SimIo::detached(n);
        let mut sim = Sim::new(&s, io);
        let mut seen = HashSet::new();
        for _ in 0..LONGEST_PERIOD_S {
            sim.step(1);
            while let Ok(t) = outbox_rx.try_recv() {
                seen.insert(t.device);
            }
        }
        assert_eq!(seen.len(), n);
        assert_eq!(sim.stats().dropped_total(), 0);
    }

    #[test]
    fn sample_payloads_round_trip() {
        for (readings, enc) in [
            (DHT22_READINGS, Encoding::Json),
            (BME280_READINGS, Encoding::MsgPack),
        ] {
            let p = Payload {
                device_id: "thermo-7",
                seq: 1042,
                timestamp: 1_732_871_200.5,
                sent_us: None,
                readings,
            };
            let mut buf = Vec::new();
            p.encode_into(enc, &mut buf).unwrap();
            let d = Decoded::decode(enc, &buf).unwrap();
            assert_eq!(d.device_id, "thermo-7");
            assert_eq!(d.readings.len(), 3);
        }
    }
}
