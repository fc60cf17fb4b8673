//! Which devices an actuator's state moves, worked out once from the scenario: a relay's
//! soil probes (`irrigated_by`), and the other devices in a heater's room or in the rooms
//! of a thermostat's heaters. A command to the actuator is then a planned change of
//! theirs too, so the step it causes in their readings is graded as expected.

use super::resources::Driven;
use scenarios::{ModelSpec, Scenario};

/// The map for `s`, each list in fleet order and at most [`Driven::CAP`] long.
pub(super) fn of(s: &Scenario) -> Driven {
    let mut in_room: Vec<Vec<u32>> = vec![Vec::new(); s.environments.len()];
    for (i, d) in s.devices.iter().enumerate() {
        if let Some(e) = d.environment
            && in_room[e].len() <= Driven::CAP
        {
            in_room[e].push(i as u32);
        }
    }
    let mut driven = Driven::default();
    let mut add = |actuator: usize, devices: &mut dyn Iterator<Item = u32>| {
        let list = driven.0.entry(actuator as u32).or_default();
        for d in devices {
            if d != actuator as u32 && !list.contains(&d) && list.len() < Driven::CAP {
                list.push(d);
            }
        }
    };
    for (i, d) in s.devices.iter().enumerate() {
        match &d.model {
            ModelSpec::SoilMoisture {
                irrigated_by: Some(r),
                ..
            } => add(*r, &mut std::iter::once(i as u32)),
            ModelSpec::Heater { .. } => {
                if let Some(e) = d.environment {
                    add(i, &mut in_room[e].iter().copied());
                }
            }
            ModelSpec::Thermostat { heaters, .. } => {
                let rooms = heaters.iter().filter_map(|&h| s.devices[h].environment);
                let mut members = rooms.flat_map(|e| in_room[e].iter().copied());
                add(i, &mut members);
            }
            _ => {}
        }
    }
    driven
}
