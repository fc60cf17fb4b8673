//! User-defined models in the schedule: the read (generators through the datasheet
//! chain, in the Sensors set) and the transitions (after the faults, on what the device
//! is about to publish, in the Publish set).

use super::resources::{SimClock, Timeline};
use crate::model::room::hour_of_day;
use crate::model::user::Env;
use crate::model::*;
use bevy_ecs::prelude::*;

type UserRow<'a> = (
    &'a Publisher,
    &'a mut UserPart,
    Option<&'a InRoom>,
    &'a mut DeviceRng,
    &'a mut Staged,
    Option<&'a mut MeasuredTemperature>,
);

/// Read every due user-model device.
pub(super) fn read_user(clock: Res<SimClock>, rooms: Query<&RoomState>, mut q: Query<UserRow>) {
    let unix = clock.unix();
    for (p, mut part, room, mut rng, mut staged, measured) in &mut q {
        if !p.due {
            continue;
        }
        let env = room.and_then(|r| rooms.get(r.0).ok()).map(|r| Env {
            temperature: r.0.temperature,
            humidity: r.0.humidity(unix),
            pressure: r.0.pressure(unix),
        });
        let (readings, expected) = part.0.read(clock.now, hour_of_day(unix), env, &mut rng.0);
        if let Some(mut m) = measured
            && let Some((_, v)) = readings.iter().find(|(k, _)| *k == "temperature")
        {
            m.0 = Some(v.as_f64());
        }
        staged.readings.extend(readings);
        staged.expected.extend(expected);
    }
}

/// After faults: a transition whose condition holds on what is about to be published
/// changes the state, and the device publishes its new state on the next pass.
pub(super) fn run_user_transitions(
    clock: Res<SimClock>,
    mut timeline: ResMut<Timeline>,
    mut q: Query<(&DeviceIndex, &mut Publisher, &mut UserPart, &Staged)>,
) {
    for (d, mut p, mut part, staged) in &mut q {
        if p.due && part.0.transitions(&staged.readings) {
            p.force = true;
            timeline.planned.transition(d.0, clock.now);
        }
    }
}
