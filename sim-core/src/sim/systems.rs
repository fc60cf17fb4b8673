//! Systems, in the fixed order commands → physics → sensors → control → publish.

use super::build::{DeviceEntities, Io, Timeline};
use super::{InboundCommand, SessionCommand, SimClock, SimStats};
use crate::model::household::PowerMeter;
use crate::model::room::hour_of_day;
use crate::model::sensors::{f, lipo_voltage};
use crate::model::*;
use crate::wire::{Telemetry, Value};
use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use scenarios::{EventAction, SetValue};
use tokio::sync::mpsc::error::TrySendError;

/// Most inbound commands applied in one step, so a command flood cannot stall the clock.
const MAX_COMMANDS_PER_STEP: usize = 4096;

/// System phases, run in this order every step.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Clock, timeline, inbound commands.
    Inputs,
    /// Rooms, soil, people.
    Physics,
    /// Who publishes now, and what the sensors read.
    Sensors,
    /// Thermostats act on what was read.
    Control,
    /// Actuator states, batteries, and the send.
    Publish,
}

pub(crate) fn schedule() -> Schedule {
    let mut s = Schedule::default();
    s.configure_sets(
        (
            Phase::Inputs,
            Phase::Physics,
            Phase::Sensors,
            Phase::Control,
            Phase::Publish,
        )
            .chain(),
    );
    s.add_systems(
        (
            advance_clock,
            apply_inputs,
            crate::fault::end_faults,
            crate::fault::strike_random_faults,
        )
            .chain()
            .in_set(Phase::Inputs),
    );
    s.add_systems(
        (
            sum_heating_per_room,
            integrate_room_heat,
            step_motion,
            step_household_load,
            dry_and_water_soil,
        )
            .chain()
            .in_set(Phase::Physics),
    );
    s.add_systems(
        (
            mark_due,
            read_dht22,
            read_bme280,
            read_ds18b20,
            read_tmp36,
            read_pir,
            read_power_meter,
            read_soil,
        )
            .chain()
            .in_set(Phase::Sensors),
    );
    s.add_systems(run_thermostats.in_set(Phase::Control));
    s.add_systems(
        (
            stage_switches,
            stage_thermostats,
            drain_batteries,
            crate::fault::apply_faults,
            publish_telemetry,
        )
            .chain()
            .in_set(Phase::Publish),
    );
    s
}

fn gauss(rng: &mut DeviceRng, sd: f64) -> f64 {
    let z: f64 = rng.0.sample(StandardNormal);
    z * sd
}

fn round_to(x: f64, step: f64) -> f64 {
    ((x / step).round() * step * 1e6).round() / 1e6
}

fn advance_clock(mut clock: ResMut<SimClock>, mut stats: ResMut<SimStats>) {
    stats.steps += 1;
    // Multiply rather than accumulate so the clock does not drift over long runs.
    clock.now = stats.steps as f64 * clock.tick;
}

type InputTargets<'a> = (
    &'a mut Publisher,
    &'a mut Link,
    Option<&'a mut Switch>,
    Option<&'a mut Thermostat>,
    &'a mut crate::fault::Faults,
);

fn apply_inputs(
    clock: Res<SimClock>,
    mut timeline: ResMut<Timeline>,
    mut io: ResMut<Io>,
    mut stats: ResMut<SimStats>,
    mut truth: ResMut<crate::fault::GroundTruth>,
    entities: Res<DeviceEntities>,
    mut targets: Query<InputTargets>,
) {
    let mut due: Vec<(Vec<usize>, EventAction)> = Vec::new();
    while let Some(ev) = timeline.events.get(timeline.next) {
        if ev.at > clock.now + 1e-9 {
            break;
        }
        due.push((ev.devices.clone(), ev.action.clone()));
        timeline.next += 1;
    }
    if let Some(rx) = io.0.steer.as_mut() {
        for _ in 0..MAX_COMMANDS_PER_STEP {
            let Ok(s) = rx.try_recv() else { break };
            due.push((vec![s.device as usize], s.action));
        }
    }
    for (devices, action) in due {
        for &d in &devices {
            let Some(&entity) = entities.0.get(d) else {
                continue;
            };
            let Ok((mut publisher, mut link, switch, thermostat, mut faults)) =
                targets.get_mut(entity)
            else {
                continue;
            };
            match &action {
                EventAction::Set(set) => {
                    if apply_set(set, switch, thermostat) {
                        publisher.force = true;
                        stats.commands_applied += 1;
                    } else {
                        stats.commands_rejected += 1;
                    }
                }
                EventAction::Disconnect => {
                    link.online = false;
                    let _ = io.0.sessions.send(SessionCommand::Disconnect(d as u32));
                }
                EventAction::Reconnect => {
                    if !link.dead {
                        link.online = true;
                        let _ = io.0.sessions.send(SessionCommand::Reconnect(d as u32));
                    }
                }
                EventAction::Rate(every) => {
                    publisher.every = *every;
                    publisher.next_at = clock.now + every;
                }
                EventAction::Fault(spec) => crate::fault::activate(
                    &mut faults,
                    spec,
                    clock.now,
                    d as u32,
                    &mut link,
                    &io,
                    &mut truth,
                ),
            }
        }
    }
    for _ in 0..MAX_COMMANDS_PER_STEP {
        let Ok(InboundCommand { device, set }) = io.0.commands.try_recv() else {
            break;
        };
        let Some(&entity) = entities.0.get(device as usize) else {
            stats.commands_rejected += 1;
            continue;
        };
        let Ok((mut publisher, _, switch, thermostat, _)) = targets.get_mut(entity) else {
            stats.commands_rejected += 1;
            continue;
        };
        if apply_set(&set, switch, thermostat) {
            publisher.force = true;
            stats.commands_applied += 1;
        } else {
            tracing::warn!(
                device,
                ?set,
                "command refused: key or value type not accepted by this device"
            );
            stats.commands_rejected += 1;
        }
    }
}

/// Apply `{"set":{...}}` to an actuator; false if any key does not fit the device.
fn apply_set(
    set: &[(String, SetValue)],
    mut switch: Option<Mut<Switch>>,
    mut thermostat: Option<Mut<Thermostat>>,
) -> bool {
    // Check everything first so a command applies whole or not at all.
    let fits = set.iter().all(|(k, v)| match (k.as_str(), v) {
        ("on", SetValue::Bool(_)) => switch.is_some(),
        ("setpoint", SetValue::Number(x)) => thermostat.is_some() && x.is_finite(),
        ("enabled", SetValue::Bool(_)) => thermostat.is_some(),
        _ => false,
    });
    if !fits || set.is_empty() {
        return false;
    }
    for (k, v) in set {
        match (k.as_str(), v) {
            ("on", SetValue::Bool(b)) => {
                if let Some(s) = switch.as_mut() {
                    s.on = *b;
                }
            }
            ("setpoint", SetValue::Number(x)) => {
                if let Some(t) = thermostat.as_mut() {
                    t.setpoint = *x;
                }
            }
            ("enabled", SetValue::Bool(b)) => {
                if let Some(t) = thermostat.as_mut() {
                    t.enabled = *b;
                }
            }
            _ => {}
        }
    }
    true
}

fn sum_heating_per_room(
    mut rooms: Query<&mut RoomState>,
    heaters: Query<(&Switch, &HeaterPower, &InRoom)>,
) {
    for mut r in &mut rooms {
        r.0.heating_kw = 0.0;
    }
    for (s, p, room) in &heaters {
        if s.on
            && let Ok(mut r) = rooms.get_mut(room.0)
        {
            r.0.heating_kw += p.0 / 1000.0;
        }
    }
}

fn integrate_room_heat(clock: Res<SimClock>, mut rooms: Query<&mut RoomState>) {
    for mut r in &mut rooms {
        r.0.step(clock.unix(), clock.tick);
    }
}

fn step_motion(
    clock: Res<SimClock>,
    rooms: Query<&RoomState>,
    mut pirs: Query<(&mut PirPart, &InRoom, &mut DeviceRng, &mut Publisher)>,
) {
    for (mut pir, room, mut rng, mut publisher) in &mut pirs {
        let activity = rooms
            .get(room.0)
            .map_or(0.0, |r| r.0.activity(clock.unix()));
        if pir.0.step(clock.now, clock.tick, activity, &mut rng.0) {
            // A PIR node reports the rising edge at once, not at its next period.
            publisher.force = true;
        }
    }
}

fn step_household_load(clock: Res<SimClock>, mut meters: Query<(&mut MeterPart, &mut DeviceRng)>) {
    let hour = hour_of_day(clock.unix());
    for (mut m, mut rng) in &mut meters {
        let w = m.meter.step(clock.now, hour, clock.tick, &mut rng.0);
        m.watts = w;
    }
}

fn dry_and_water_soil(
    clock: Res<SimClock>,
    rooms: Query<&RoomState>,
    valves: Query<&Switch>,
    mut soils: Query<(&mut SoilPart, Option<&InRoom>)>,
) {
    for (mut soil, room) in &mut soils {
        let temp = room
            .and_then(|r| rooms.get(r.0).ok())
            .map_or(20.0, |r| r.0.temperature);
        // Evaporation grows with temperature and slows as the soil dries.
        let rate = soil.dry_per_day / 86_400.0
            * (1.0 + 0.04 * (temp - 20.0)).max(0.2)
            * (soil.moisture / 50.0);
        soil.moisture = (soil.moisture - rate * clock.tick).max(0.0);
        let watering = soil
            .irrigated_by
            .and_then(|v| valves.get(v).ok())
            .is_some_and(|s| s.on);
        if watering {
            // Drip irrigation: about 30 points a minute until the soil is saturated.
            soil.moisture = (soil.moisture + 0.5 * clock.tick).min(95.0);
        }
    }
}

fn mark_due(clock: Res<SimClock>, mut q: Query<(&mut Publisher, &Link)>) {
    for (mut p, link) in &mut q {
        let periodic = clock.now + 1e-9 >= p.next_at;
        if periodic {
            p.next_at += p.every;
            if p.next_at <= clock.now {
                p.next_at = clock.now + p.every;
            }
        }
        p.due = link.online && !link.dead && (periodic || p.force);
        if p.due {
            p.force = false;
        }
    }
}

type SensorRow<'a, P> = (
    &'a Publisher,
    &'a P,
    &'a InRoom,
    &'a mut DeviceRng,
    &'a mut Staged,
    &'a mut MeasuredTemperature,
);

fn read_dht22(clock: Res<SimClock>, rooms: Query<&RoomState>, mut q: Query<SensorRow<Dht22Part>>) {
    for (p, part, room, mut rng, mut staged, mut measured) in &mut q {
        if !p.due {
            continue;
        }
        let Ok(r) = rooms.get(room.0) else { continue };
        let rh = r.0.humidity(clock.unix());
        staged
            .expected
            .extend([("temperature", r.0.temperature), ("humidity", rh)]);
        if let Some((t, h)) = part.0.read(r.0.temperature, rh, &mut rng.0) {
            staged.readings.push(f("temperature", t));
            staged.readings.push(f("humidity", h));
            measured.0 = Some(t);
        }
    }
}

fn read_bme280(
    clock: Res<SimClock>,
    rooms: Query<&RoomState>,
    mut q: Query<SensorRow<Bme280Part>>,
) {
    for (p, part, room, mut rng, mut staged, mut measured) in &mut q {
        if !p.due {
            continue;
        }
        let Ok(r) = rooms.get(room.0) else { continue };
        let (true_h, true_p) = (r.0.humidity(clock.unix()), r.0.pressure(clock.unix()));
        staged.expected.extend([
            ("temperature", r.0.temperature),
            ("humidity", true_h),
            ("pressure", true_p),
        ]);
        let (t, h, hpa) = part.0.read(r.0.temperature, true_h, true_p, &mut rng.0);
        staged
            .readings
            .extend([f("temperature", t), f("humidity", h), f("pressure", hpa)]);
        measured.0 = Some(t);
    }
}

fn read_ds18b20(rooms: Query<&RoomState>, mut q: Query<SensorRow<Ds18b20Part>>) {
    for (p, part, room, mut rng, mut staged, mut measured) in &mut q {
        if !p.due {
            continue;
        }
        let Ok(r) = rooms.get(room.0) else { continue };
        staged.expected.push(("temperature", r.0.temperature));
        let t = part.0.read(r.0.temperature, &mut rng.0);
        staged.readings.push(f("temperature", t));
        measured.0 = Some(t);
    }
}

fn read_tmp36(rooms: Query<&RoomState>, mut q: Query<SensorRow<Tmp36Part>>) {
    for (p, part, room, mut rng, mut staged, mut measured) in &mut q {
        if !p.due {
            continue;
        }
        let Ok(r) = rooms.get(room.0) else { continue };
        staged.expected.push(("temperature", r.0.temperature));
        let (raw, t) = part.0.read(r.0.temperature, &mut rng.0);
        staged.readings.push(("raw", Value::Int(raw)));
        staged.readings.push(f("temperature", t));
        measured.0 = Some(t);
    }
}

fn read_pir(clock: Res<SimClock>, mut q: Query<(&Publisher, &mut PirPart, &mut Staged)>) {
    for (p, mut pir, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        staged
            .readings
            .push(("motion", Value::Bool(pir.0.motion(clock.now))));
        staged
            .readings
            .push(("motion_events", Value::Int(i64::from(pir.0.events))));
        pir.0.events = 0;
    }
}

fn read_power_meter(mut q: Query<(&Publisher, &MeterPart, &mut DeviceRng, &mut Staged)>) {
    for (p, m, mut rng, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        let v = PowerMeter::voltage(m.watts, &mut rng.0);
        staged
            .expected
            .push(("voltage", 230.0 - 0.6 * m.watts / 1000.0));
        staged.readings.extend([
            f("power", round_to(m.watts, 0.1)),
            f("energy_kwh", round_to(m.meter.energy_kwh, 0.001)),
            f("voltage", round_to(v, 0.1)),
        ]);
    }
}

fn read_soil(mut q: Query<(&Publisher, &SoilPart, &mut DeviceRng, &mut Staged)>) {
    for (p, soil, mut rng, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        staged.expected.push(("moisture", soil.moisture));
        let (raw, pct) = soil.probe.read(soil.moisture, &mut rng.0);
        staged.readings.push(f("moisture", pct));
        staged.readings.push(("raw", Value::Int(raw)));
    }
}

fn run_thermostats(
    clock: Res<SimClock>,
    rooms: Query<&RoomState>,
    sensors: Query<&MeasuredTemperature>,
    mut thermostats: Query<(&mut Thermostat, &InRoom, &mut DeviceRng, &mut Publisher)>,
    mut heaters: Query<(&mut Switch, &mut Publisher), Without<Thermostat>>,
) {
    let _ = clock;
    for (mut t, room, mut rng, mut publisher) in &mut thermostats {
        let reading = match t.sensor {
            Some(s) => sensors.get(s).ok().and_then(|m| m.0),
            None => {
                let offset = t.builtin_offset;
                rooms
                    .get(room.0)
                    .ok()
                    .map(|r| round_to(r.0.temperature + offset + gauss(&mut rng, 0.03), 0.1))
            }
        };
        let Some(temp) = reading else { continue };
        t.temperature = Some(temp);
        let half = t.hysteresis / 2.0;
        let want = if !t.enabled {
            false
        } else if temp < t.setpoint - half {
            true
        } else if temp > t.setpoint + half {
            false
        } else {
            t.heating
        };
        if want != t.heating {
            t.heating = want;
            publisher.force = true;
            for &h in &t.heaters {
                if let Ok((mut s, mut hp)) = heaters.get_mut(h)
                    && s.on != want
                {
                    s.on = want;
                    hp.force = true;
                }
            }
        }
    }
}

fn stage_switches(mut q: Query<(&Publisher, &Switch, Option<&HeaterPower>, &mut Staged)>) {
    for (p, s, power, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        staged.readings.push(("on", Value::Bool(s.on)));
        if let Some(w) = power {
            staged
                .readings
                .push(f("power", if s.on { w.0 } else { 0.0 }));
        }
    }
}

fn stage_thermostats(mut q: Query<(&Publisher, &Thermostat, &mut Staged)>) {
    for (p, t, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        if let Some(temp) = t.temperature {
            staged.readings.push(f("temperature", temp));
        }
        staged.readings.extend([
            f("setpoint", t.setpoint),
            ("heating", Value::Bool(t.heating)),
            ("enabled", Value::Bool(t.enabled)),
        ]);
    }
}

fn drain_batteries(
    mut q: Query<(
        &Publisher,
        &mut Battery,
        &mut Link,
        &mut Staged,
        Option<&BatteryNode>,
    )>,
) {
    for (p, mut b, mut link, mut staged, node) in &mut q {
        if !p.due {
            continue;
        }
        b.charge_mah = (b.charge_mah - b.drain_mah).max(0.0);
        let soc = b.charge_mah / b.capacity_mah;
        staged
            .readings
            .push(("battery", Value::Int((soc * 100.0).round() as i64)));
        if node.is_some() {
            staged.readings.push(f("voltage", lipo_voltage(soc)));
            staged.expected.push(("voltage", lipo_voltage(soc)));
        }
        // Tolerate float residue: 1 mAh drained in 0.1 mAh steps is empty after ten.
        if b.charge_mah <= 1e-9 {
            b.charge_mah = 0.0;
            // This was the last message; a flat battery takes the node off the air.
            link.dead = true;
        }
    }
}

fn publish_telemetry(
    clock: Res<SimClock>,
    io: Res<Io>,
    mut stats: ResMut<SimStats>,
    mut q: Query<(&DeviceIndex, &mut Publisher, &mut Staged)>,
) {
    for (idx, mut p, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        p.due = false;
        let msg = Telemetry {
            device: idx.0,
            seq: p.seq,
            sim_time: clock.now,
            readings: std::mem::take(&mut staged.readings),
            expected: std::mem::take(&mut staged.expected),
            skew: std::mem::take(&mut staged.skew),
            duplicate: std::mem::take(&mut staged.duplicate),
            hold: std::mem::take(&mut staged.hold),
        };
        p.seq += 1;
        match io.0.outbox.try_send(msg) {
            Ok(()) => stats.produced += 1,
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                stats.dropped_at_source[idx.0 as usize] += 1;
            }
        }
    }
}
