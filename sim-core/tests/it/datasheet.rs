//! Each built-in sensor model within its datasheet, against the environment it is in:
//! a fleet of every sensor model in rooms that warm, cool and swing (daily cycles, a
//! heater under a thermostat), stepped by hand for half a simulated day; every
//! published reading is compared with the true value of its room (the twin's
//! expectation, carried beside each message).

use crate::scenario;
use sim_core::sim::{Sim, SimIo};
use sim_core::wire::Telemetry;
use std::collections::BTreeMap;

const FLEET: &str = r#"
[scenario]
name = "datasheet"
seed = 11
duration = "12h"
tick = "1s"
speed = "max"

[[environment]]
name = "room-{n}"
count = 3
initial_temperature = 14.0
outdoor_mean = 8.0
outdoor_amplitude = 6.0
humidity = 55.0
humidity_amplitude = 15.0
pressure = 1005.0

[[devices]]
id = "dht-{n}"
count = 3
model = "dht22"
environment = "room-{n}"
publish_every = "20s"

[[devices]]
id = "bme-{n}"
count = 3
model = "bme280"
environment = "room-{n}"
publish_every = "20s"

[[devices]]
id = "ds-{n}"
count = 3
model = "ds18b20"
environment = "room-{n}"
publish_every = "20s"

[[devices]]
id = "tmp-{n}"
count = 3
model = "tmp36"
environment = "room-{n}"
publish_every = "20s"

[[devices]]
id = "soil-{n}"
count = 3
model = "soil_moisture"
environment = "room-{n}"
publish_every = "60s"

[[devices]]
id = "heater-1"
model = "heater"
environment = "room-1"

[[devices]]
id = "thermostat-1"
model = "thermostat"
environment = "room-1"
sensor = "dht-1"
heater = "heater-1"
setpoint = 21.0
"#;

/// The datasheet bound of each model's reading, with the published resolution's half
/// step: the largest |published − true| the part may show.
fn bound(model: &str, reading: &str) -> Option<f64> {
    Some(match (model, reading) {
        ("dht", "temperature") => 0.5 + 0.05,
        ("dht", "humidity") => 2.0 + 0.05,
        ("bme", "temperature") => 1.0 + 0.005,
        ("bme", "humidity") => 3.0 + 0.005,
        ("bme", "pressure") => 1.0 + 0.005,
        ("ds", "temperature") => 0.5,
        // ±2 °C, plus an ADC step (0.08 °C) and its noise.
        ("tmp", "temperature") => 2.0 + 0.3,
        // Each probe's dry and wet counts differ from the firmware's nominal ones by up
        // to 60 and 40 counts of 1,700: at most about 3.6 points, plus ADC noise.
        ("soil", "moisture") => 4.5,
        _ => return None,
    })
}

#[test]
fn every_sensor_model_reads_its_room_within_its_datasheet() {
    let s = scenario(FLEET);
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 20);
    let mut sim = Sim::new(&s, io);
    sim.step(12 * 3600);
    let mut worst: BTreeMap<(String, &str), f64> = BTreeMap::new();
    let mut n = 0;
    while let Ok(m) = out.try_recv() {
        let m: Telemetry = m;
        let id = &s.devices[m.device as usize].id;
        let model = id.split('-').next().unwrap().to_string();
        for (name, truth) in &m.expected {
            let Some(limit) = bound(&model, name) else {
                continue;
            };
            let Some((_, v)) = m.readings.iter().find(|(k, _)| k == name) else {
                continue; // a failed read publishes nothing
            };
            let err = (v.as_f64() - truth).abs();
            assert!(
                err <= limit,
                "{id} {name}: read {v:?}, true {truth:.3}, off by {err:.3} > {limit}"
            );
            let w = worst.entry((model.clone(), *name)).or_default();
            *w = w.max(err);
            n += 1;
        }
    }
    assert!(n > 20_000, "{n} readings compared");
    // Every model and reading was compared, and the errors are the part's, not zero.
    assert_eq!(worst.len(), 8, "{worst:?}");
    assert!(worst.values().all(|&w| w > 0.0), "{worst:?}");
}
