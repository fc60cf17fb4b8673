//! Physics: heaters warm rooms, rooms follow their thermal model, people move, the
//! household draws power, soil dries and is watered.

use super::resources::SimClock;
use crate::model::room::hour_of_day;
use crate::model::*;
use bevy_ecs::prelude::*;

pub(super) fn sum_heating_per_room(
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

pub(super) fn integrate_room_heat(clock: Res<SimClock>, mut rooms: Query<&mut RoomState>) {
    for mut r in &mut rooms {
        r.0.step(clock.unix(), clock.tick);
    }
}

pub(super) fn step_motion(
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

pub(super) fn step_household_load(
    clock: Res<SimClock>,
    mut meters: Query<(&mut MeterPart, &mut DeviceRng)>,
) {
    let hour = hour_of_day(clock.unix());
    for (mut m, mut rng) in &mut meters {
        let w = m.meter.step(clock.now, hour, clock.tick, &mut rng.0);
        m.watts = w;
    }
}

pub(super) fn dry_and_water_soil(
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
