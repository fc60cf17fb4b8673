//! Sensors: who publishes this step, and what each part reads (with its datasheet
//! noise, from [`crate::model::sensors`]).

use super::resources::SimClock;
use crate::model::household::PowerMeter;
use crate::model::sensors::f;
use crate::model::*;
use crate::wire::Value;
use bevy_ecs::prelude::*;

pub(super) fn mark_due(clock: Res<SimClock>, mut q: Query<(&mut Publisher, &Link)>) {
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

pub(super) fn read_dht22(
    clock: Res<SimClock>,
    rooms: Query<&RoomState>,
    mut q: Query<SensorRow<Dht22Part>>,
) {
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

pub(super) fn read_bme280(
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

pub(super) fn read_ds18b20(rooms: Query<&RoomState>, mut q: Query<SensorRow<Ds18b20Part>>) {
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

pub(super) fn read_tmp36(rooms: Query<&RoomState>, mut q: Query<SensorRow<Tmp36Part>>) {
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

pub(super) fn read_pir(
    clock: Res<SimClock>,
    mut q: Query<(&Publisher, &mut PirPart, &mut Staged)>,
) {
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

pub(super) fn read_power_meter(
    mut q: Query<(&Publisher, &MeterPart, &mut DeviceRng, &mut Staged)>,
) {
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

pub(super) fn read_soil(mut q: Query<(&Publisher, &SoilPart, &mut DeviceRng, &mut Staged)>) {
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

/// Round to a multiple of `step` (the part's display resolution), without float residue.
pub(super) fn round_to(x: f64, step: f64) -> f64 {
    ((x / step).round() * step * 1e6).round() / 1e6
}
