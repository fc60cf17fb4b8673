//! `[[devices]]`, pass 2: each device's model parameters, with the devices they name
//! (a thermostat's sensor and heaters, a soil probe's relay) resolved to fleet indices.

use super::check::{
    Ctx, References, Res, expand_n, non_negative_f, placeholders, positive, positive_f,
};
use super::fleet::Fleet;
use crate::catalog::ModelKind;
use crate::device::ModelSpec;
use crate::raw::DeviceGroupTable;
use crate::spec::EnvironmentSpec;
use std::collections::HashMap;
use toml::Spanned;

/// Fill in every device's model; `tables` are the groups pass 1 expanded.
pub(super) fn resolve(
    cx: &Ctx,
    tables: &[DeviceGroupTable],
    environments: &[EnvironmentSpec],
    fleet: &mut Fleet,
    references: &mut References,
) -> Res<()> {
    let heaters_in = heaters_by_room(fleet);
    for me in 0..fleet.devices.len() {
        let group = fleet.devices[me].group;
        let dev = Device {
            g: &tables[group],
            n: fleet.ns[me],
            me,
        };
        let so_far = FleetSoFar {
            fleet: &*fleet,
            environments,
            heaters_in: &heaters_in,
        };
        let kind = fleet.groups[group].model.clone();
        let model = model_spec(cx, &dev, kind, &so_far)?;
        if let ModelSpec::Thermostat { heaters, .. } = &model {
            references.add(cx, dev.g.model.span(), heaters.len(), "this thermostat")?;
        }
        fleet.devices[me].model = model;
    }
    Ok(())
}

/// Heaters by environment, gathered once: a thermostat with no heater key drives every
/// heater in its room, and searching the whole fleet per thermostat is quadratic.
fn heaters_by_room(fleet: &Fleet) -> HashMap<Option<usize>, Vec<usize>> {
    let mut heaters_in: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
    for (i, d) in fleet.devices.iter().enumerate() {
        if fleet.groups[d.group].model == ModelKind::Heater {
            heaters_in.entry(d.environment).or_default().push(i);
        }
    }
    heaters_in
}

/// The device whose model is being resolved.
struct Device<'a> {
    /// Its group's table.
    g: &'a DeviceGroupTable,
    /// The `{n}` its id was expanded with; its references' templates take the same.
    n: usize,
    /// Its fleet index.
    me: usize,
}

/// The fleet as pass 1 left it, for resolving references between devices.
struct FleetSoFar<'a> {
    fleet: &'a Fleet,
    environments: &'a [EnvironmentSpec],
    /// Fleet indices of the heaters in each environment, in fleet order.
    heaters_in: &'a HashMap<Option<usize>, Vec<usize>>,
}

/// A key that names another device, and what that device must be.
struct Wanted {
    /// The key, for messages.
    key: &'static str,
    /// Whether a model will do.
    fits: fn(&ModelKind) -> bool,
    /// What will do, for messages.
    expected: &'static str,
}

impl FleetSoFar<'_> {
    /// Resolve `dev`'s id template `t` (with `{n}`), which must name a device that fits
    /// `want`; `None` when the key is absent.
    fn resolve(
        &self,
        cx: &Ctx,
        t: Option<&Spanned<String>>,
        dev: &Device,
        want: &Wanted,
    ) -> Res<Option<usize>> {
        let Some(t) = t else { return Ok(None) };
        let Wanted { key, expected, .. } = want;
        placeholders(cx, t, &["n"])?;
        let id = expand_n(t.get_ref(), dev.n);
        let idx = *self.fleet.ids.get(&id).ok_or_else(|| {
            cx.at(
                t.span(),
                format!(
                    "{key} \"{id}\" (for device \"{}\") is not a device of this fleet; expected {expected}",
                    self.fleet.devices[dev.me].id
                ),
            )
        })?;
        if !(want.fits)(self.fleet.kind(idx)) {
            return Err(cx.at(
                t.span(),
                format!(
                    "{key} names \"{id}\", a {}; expected {expected}",
                    self.fleet.kind(idx).name()
                ),
            ));
        }
        Ok(Some(idx))
    }
}

/// The parameters of `dev`, a `kind`.
fn model_spec(cx: &Ctx, dev: &Device, kind: ModelKind, fleet: &FleetSoFar) -> Res<ModelSpec> {
    let g = dev.g;
    let initial = g.initial.as_ref().is_some_and(|v| *v.get_ref());
    Ok(match kind {
        ModelKind::Dht22 => ModelSpec::Dht22,
        ModelKind::Bme280 => ModelSpec::Bme280,
        ModelKind::Ds18b20 => ModelSpec::Ds18b20,
        ModelKind::Tmp36 => ModelSpec::Tmp36,
        ModelKind::Battery => ModelSpec::Battery,
        ModelKind::Pir => ModelSpec::Pir {
            events_per_hour: match &g.events_per_hour {
                Some(v) => positive_f(cx, v, "events_per_hour")?,
                None => 6.0,
            },
            hold: match &g.hold {
                Some(v) => positive(cx, v, "hold")?,
                None => 5.0,
            },
        },
        ModelKind::PowerMeter => ModelSpec::PowerMeter {
            base_load_w: match &g.base_load_w {
                Some(v) => non_negative_f(cx, v, "base_load_w")?,
                None => 150.0,
            },
        },
        ModelKind::SoilMoisture => soil_moisture(cx, dev, fleet)?,
        ModelKind::Relay => ModelSpec::Relay { initial },
        ModelKind::Led => ModelSpec::Led { initial },
        ModelKind::Heater => ModelSpec::Heater {
            initial,
            power_w: match &g.power_w {
                Some(v) => positive_f(cx, v, "power_w")?,
                None => 1500.0,
            },
        },
        ModelKind::Thermostat => thermostat(cx, dev, fleet)?,
        ModelKind::User(m) => ModelSpec::User(m),
    })
}

const IRRIGATED_BY: Wanted = Wanted {
    key: "irrigated_by",
    fits: |k| *k == ModelKind::Relay,
    expected: "the relay that drives the valve",
};

fn soil_moisture(cx: &Ctx, dev: &Device, fleet: &FleetSoFar) -> Res<ModelSpec> {
    Ok(ModelSpec::SoilMoisture {
        irrigated_by: fleet.resolve(cx, dev.g.irrigated_by.as_ref(), dev, &IRRIGATED_BY)?,
        dry_per_day: match &dev.g.dry_per_day {
            Some(v) => non_negative_f(cx, v, "dry_per_day")?,
            None => 8.0,
        },
    })
}

const SENSOR: Wanted = Wanted {
    key: "sensor",
    fits: ModelKind::measures_temperature,
    expected: "a dht22, bme280, ds18b20 or tmp36",
};

const HEATER: Wanted = Wanted {
    key: "heater",
    fits: |k| *k == ModelKind::Heater,
    expected: "a heater",
};

fn thermostat(cx: &Ctx, dev: &Device, fleet: &FleetSoFar) -> Res<ModelSpec> {
    let g = dev.g;
    let setpoint = match &g.setpoint {
        Some(v) if !v.get_ref().is_finite() => {
            return Err(cx.at(v.span(), "setpoint must be a finite temperature in °C"));
        }
        Some(v) => *v.get_ref(),
        None => 21.0,
    };
    let hysteresis = match &g.hysteresis {
        Some(v) => positive_f(cx, v, "hysteresis")?,
        None => 1.0,
    };
    let sensor = fleet.resolve(cx, g.sensor.as_ref(), dev, &SENSOR)?;
    let heaters = match fleet.resolve(cx, g.heater.as_ref(), dev, &HEATER)? {
        Some(heater) => vec![heater],
        None => heaters_in_room(cx, dev, fleet)?,
    };
    Ok(ModelSpec::Thermostat {
        setpoint,
        hysteresis,
        sensor,
        heaters,
    })
}

/// A thermostat without a heater key drives every heater in its room; it needs one.
fn heaters_in_room(cx: &Ctx, dev: &Device, fleet: &FleetSoFar) -> Res<Vec<usize>> {
    let env = fleet.fleet.devices[dev.me].environment;
    let found = fleet.heaters_in.get(&env).cloned().unwrap_or_default();
    if found.is_empty() {
        let env_name = env.map_or("?", |e| fleet.environments[e].name.as_str());
        return Err(cx.at(
            dev.g.model.span(),
            format!(
                "thermostat \"{}\" has nothing to drive: no heater key and no heater in environment \"{env_name}\"",
                fleet.fleet.devices[dev.me].id
            ),
        ));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use crate::device::ModelSpec;

    /// Heaters `h-{n}` (`heaters` of them) and thermostats `t-{n}` in room `lab`, plus a
    /// heater in another room that no thermostat may pick up.
    fn thermostats_and_heaters(thermostats: usize, heaters: usize) -> String {
        format!(
            "[scenario]\nname = \"x\"\nduration = \"1m\"\n\n\
             [[environment]]\nname = \"lab\"\n\n[[environment]]\nname = \"shed\"\n\n\
             [[devices]]\nid = \"h-{{n}}\"\nmodel = \"heater\"\nenvironment = \"lab\"\ncount = {heaters}\n\n\
             [[devices]]\nid = \"shed-heater\"\nmodel = \"heater\"\nenvironment = \"shed\"\n\n\
             [[devices]]\nid = \"t-{{n}}\"\nmodel = \"thermostat\"\nenvironment = \"lab\"\ncount = {thermostats}\n"
        )
    }

    // Found with a hand-written input to the scenario_parse fuzz target: every thermostat
    // without a heater key searched the whole fleet for heaters in its room, so 50 000
    // thermostats took 8 s and 2 000 000 hours.
    #[test]
    fn thermostats_find_the_heaters_of_their_room_in_linear_time() {
        let s = crate::parse(&thermostats_and_heaters(200_000, 2), "t.toml").unwrap();
        assert_eq!(s.devices.len(), 200_003);
        for d in &s.devices[3..] {
            match &d.model {
                ModelSpec::Thermostat { heaters, .. } => assert_eq!(heaters, &[0, 1], "{}", d.id),
                other => panic!("{} is {other:?}", d.id),
            }
        }
    }

    // Found with a hand-written input to the scenario_parse fuzz target: 20 000 thermostats
    // in a room of 20 000 heaters (a 199-byte file) stored 400 million heater references
    // and the process aborted when memory ran out; they are now counted and refused past
    // the limit.
    #[test]
    fn device_references_beyond_the_limit_are_refused() {
        // 4 000 thermostats x 5 000 heaters is exactly the limit; one more is over.
        assert!(crate::parse(&thermostats_and_heaters(4_000, 5_000), "t.toml").is_ok());
        let e = crate::parse(&thermostats_and_heaters(4_001, 5_000), "t.toml").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("this thermostat brings the device references"),
            "{text}"
        );
        assert!(
            text.contains("to 20005000 in all; expected at most 20000000"),
            "{text}"
        );
        assert_eq!(e.location(), Some((24, 9)), "{text}");
    }
}
