//! Control: thermostats read their sensor (or their own) and switch their heaters.

use super::resources::SimClock;
use super::sensors::round_to;
use crate::model::*;
use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;

fn gauss(rng: &mut DeviceRng, sd: f64) -> f64 {
    let z: f64 = rng.0.sample(StandardNormal);
    z * sd
}

pub(super) fn run_thermostats(
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
