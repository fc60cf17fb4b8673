//! Build the ECS world from an expanded scenario: one entity per environment, one per
//! device (its model's parts, battery and faults), and the resources.

use super::fault::Faults;
use super::gateway::Gateways;
use super::io::{Io, SimIo};
use super::resources::{DeviceEntities, EnvEntities, SimClock, SimStats, Timeline};
use crate::fault::GroundTruth;
use crate::model::household::{Pir, PowerMeter};
use crate::model::room::Room;
use crate::model::sensors::{Bme280, Dht22, Ds18b20, SoilProbe, Tmp36};
use crate::model::*;
use bevy_ecs::prelude::*;
use bevy_ecs::world::EntityWorldMut;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scenarios::{DeviceSpec, ModelSpec, Scenario};

/// Seed for one device: FNV-1a of its id mixed with the scenario seed (splitmix64), so a
/// device's stream depends on nothing but the seed and its own name.
pub fn device_seed(scenario_seed: u64, device_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in device_id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ scenario_seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The world for `scenario`, its channels in `io`.
pub(crate) fn world(scenario: &Scenario, io: SimIo) -> World {
    let mut world = World::new();
    let envs: Vec<Entity> = scenario
        .environments
        .iter()
        .map(|e| world.spawn(RoomState(Room::new(e.clone()))).id())
        .collect();

    // Spawn every device first so references between devices can be resolved.
    let devices: Vec<Entity> = (0..scenario.devices.len())
        .map(|_| world.spawn_empty().id())
        .collect();
    for (i, d) in scenario.devices.iter().enumerate() {
        let mut rng = ChaCha8Rng::seed_from_u64(device_seed(scenario.seed, &d.id));
        let mut e = world.entity_mut(devices[i]);
        insert_common(&mut e, i, d, &envs, &mut rng);
        insert_model(&mut e, &d.model, &devices, &mut rng);
        e.insert(DeviceRng(rng));
        e.insert(Faults {
            plan: d.faults.clone(),
            active: Vec::new(),
            // A stream of its own, so faults leave every clean reading as it was.
            rng: ChaCha8Rng::seed_from_u64(
                device_seed(scenario.seed, &d.id) ^ 0xfa17_fa17_fa17_fa17,
            ),
            default_sensor: d
                .model
                .kind()
                .analysed_readings()
                .first()
                .map(|s| crate::names::intern(s)),
            gateway_strikes: Vec::new(),
        });
    }
    insert_resources(&mut world, scenario, devices, envs, io);
    world
}

/// What every device has: its index, publisher, link, staging area, room and battery.
fn insert_common(
    e: &mut EntityWorldMut,
    i: usize,
    d: &DeviceSpec,
    envs: &[Entity],
    rng: &mut ChaCha8Rng,
) {
    let first = if d.jitter > 0.0 {
        rng.random_range(0.0..d.jitter)
    } else {
        0.0
    };
    e.insert((
        DeviceIndex(i as u32),
        Publisher {
            every: d.publish_every,
            next_at: first,
            seq: 0,
            force: false,
            due: false,
        },
        Link {
            online: true,
            dead: false,
        },
        Staged::default(),
    ));
    if let Some(env) = d.environment {
        e.insert(InRoom(envs[env]));
    }
    let battery = match (&d.model, d.battery) {
        (_, Some(b)) => Some(b),
        (ModelSpec::Battery, None) => Some(scenarios::BatterySpec {
            capacity_mah: 2000.0,
            drain_mah: 0.05,
        }),
        _ => None,
    };
    if let Some(b) = battery {
        e.insert(Battery {
            capacity_mah: b.capacity_mah,
            charge_mah: b.capacity_mah,
            drain_mah: b.drain_mah,
        });
    }
}

/// The parts of one model. The order of draws from `rng` is part of the seed contract:
/// the same scenario and seed give the same fleet.
fn insert_model(
    e: &mut EntityWorldMut,
    model: &ModelSpec,
    devices: &[Entity],
    rng: &mut ChaCha8Rng,
) {
    match model {
        ModelSpec::Dht22 => e.insert((Dht22Part(Dht22::new(rng)), MeasuredTemperature::default())),
        ModelSpec::Bme280 => {
            e.insert((Bme280Part(Bme280::new(rng)), MeasuredTemperature::default()))
        }
        ModelSpec::Ds18b20 => e.insert((
            Ds18b20Part(Ds18b20::new(rng)),
            MeasuredTemperature::default(),
        )),
        ModelSpec::Tmp36 => e.insert((Tmp36Part(Tmp36::new(rng)), MeasuredTemperature::default())),
        ModelSpec::Pir {
            events_per_hour,
            hold,
        } => e.insert(PirPart(Pir {
            events_per_hour: *events_per_hour,
            hold: *hold,
            high_until: 0.0,
            events: 0,
        })),
        ModelSpec::PowerMeter { base_load_w } => e.insert(MeterPart {
            meter: PowerMeter::new(*base_load_w),
            watts: 0.0,
        }),
        ModelSpec::SoilMoisture {
            irrigated_by,
            dry_per_day,
        } => {
            let start = rng.random_range(35.0..55.0);
            e.insert(SoilPart {
                probe: SoilProbe::new(rng),
                moisture: start,
                dry_per_day: *dry_per_day,
                irrigated_by: irrigated_by.map(|r| devices[r]),
            })
        }
        ModelSpec::Battery => e.insert(BatteryNode),
        ModelSpec::Relay { initial } | ModelSpec::Led { initial } => {
            e.insert(Switch { on: *initial })
        }
        ModelSpec::Heater { initial, power_w } => {
            e.insert((Switch { on: *initial }, HeaterPower(*power_w)))
        }
        ModelSpec::Thermostat {
            setpoint,
            hysteresis,
            sensor,
            heaters,
        } => {
            let builtin_offset = rng.random_range(-0.2..0.2);
            e.insert(Thermostat {
                setpoint: *setpoint,
                hysteresis: *hysteresis,
                enabled: true,
                heating: false,
                sensor: sensor.map(|s| devices[s]),
                heaters: heaters.iter().map(|h| devices[*h]).collect(),
                temperature: None,
                builtin_offset,
            })
        }
        ModelSpec::User(m) => {
            let part = UserPart(crate::model::user::UserDevice::new(m.clone(), rng));
            if m.readings.iter().any(|r| r.name == "temperature") {
                e.insert((part, MeasuredTemperature::default()))
            } else {
                e.insert(part)
            }
        }
    };
}

/// The clock, counters, lookup tables, timeline and channels.
fn insert_resources(
    world: &mut World,
    scenario: &Scenario,
    devices: Vec<Entity>,
    envs: Vec<Entity>,
    io: SimIo,
) {
    world.insert_resource(SimClock {
        now: 0.0,
        tick: scenario.tick,
        start_epoch: scenario.start_epoch,
    });
    world.insert_resource(SimStats {
        dropped_at_source: vec![0; scenario.devices.len()],
        ..SimStats::default()
    });
    world.insert_resource(DeviceEntities(devices));
    world.insert_resource(Gateways::of(scenario));
    world.insert_resource(GroundTruth::default());
    world.insert_resource(EnvEntities(envs));
    world.insert_resource(Timeline {
        events: scenario.events.clone(),
        next: 0,
        planned: crate::fault::Planned::default(),
        driven: super::driven::of(scenario),
    });
    world.insert_resource(Io(io));
}
