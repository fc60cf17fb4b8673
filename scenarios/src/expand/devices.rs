//! `[[devices]]`, pass 1: each group's common keys are checked and its ids expanded into
//! the fleet. Model parameters wait for pass 2 (`models`), since they may name devices of
//! later groups.

use super::check::{
    Ctx, MAX_DEVICES, Res, count_of, expand_n, fast_enough, list_or_none, mqtt_string_problem,
    placeholders, positive, positive_f, shown,
};
use super::fleet::Fleet;
use super::{faults, gateways};
use crate::catalog::{COMMON_KEYS, ModelKind};
use crate::device::{BatterySpec, Convention, DeviceSpec, GroupSpec, ModelSpec};
use crate::fault::FaultSpec;
use crate::raw::DeviceGroupTable;
use crate::spec::EnvironmentSpec;
use crate::user_model::UserModel;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;

/// Expand every group into the fleet, models still unresolved. `name` is the scenario's,
/// for the error when there is no group at all.
pub(super) fn expand(
    cx: &Ctx,
    name: &Spanned<String>,
    tables: &[DeviceGroupTable],
    environments: &[EnvironmentSpec],
    user: &[Arc<UserModel>],
) -> Res<Fleet> {
    let rooms = Rooms {
        index: environments
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.as_str(), i))
            .collect(),
        all: environments,
    };
    if tables.is_empty() {
        return Err(cx.at(
            name.span(),
            "the scenario has no devices; expected at least one [[devices]] group",
        ));
    }
    let mut fleet = Fleet::default();
    for (gi, g) in tables.iter().enumerate() {
        let group = group(cx, g, user)?;
        fleet.groups.push(GroupSpec {
            id_template: g.id.get_ref().clone(),
            model: group.kind.clone(),
            count: group.count,
            publish_every: group.publish_every,
            convention: convention(cx, g)?,
        });
        add_devices(cx, g, gi, &group, &rooms, &mut fleet)?;
    }
    gateways::distinct_from_devices(cx, tables, &fleet)?;
    Ok(fleet)
}

/// A group's `convention`: `json` (the default) or one of [`Convention::ALL`].
fn convention(cx: &Ctx, g: &DeviceGroupTable) -> Res<Convention> {
    let Some(c) = &g.convention else {
        return Ok(Convention::Json);
    };
    let names = Convention::ALL.map(Convention::name);
    Convention::ALL
        .into_iter()
        .find(|k| k.name() == c.get_ref())
        .ok_or_else(|| {
            cx.at(
                c.span(),
                format!(
                    "unknown convention \"{}\"; expected one of {} (tasmota, esphome, homie and sparkplug twins are not built yet){}",
                    c.get_ref(),
                    names.join(", "),
                    crate::suggest::hint(c.get_ref(), names, |k| format!("\"{k}\""))
                ),
            )
        })
}

/// What every device of a group shares.
struct Group {
    kind: ModelKind,
    count: usize,
    publish_every: f64,
    jitter: f64,
    battery: Option<BatterySpec>,
    faults: Vec<FaultSpec>,
    gateways: Option<gateways::Gateways>,
}

/// The model a group names: a built-in one, or one the scenario defines.
fn kind_of(cx: &Ctx, g: &DeviceGroupTable, user: &[Arc<UserModel>]) -> Res<ModelKind> {
    let name = g.model.get_ref();
    if let Some(k) = ModelKind::from_name(name) {
        return Ok(k);
    }
    if let Some(m) = user.iter().find(|m| &m.name == name) {
        return Ok(ModelKind::User(m.clone()));
    }
    let builtin = ModelKind::ALL.iter().map(ModelKind::name);
    let all: Vec<&str> = builtin
        .chain(user.iter().map(|m| m.name.as_str()))
        .collect();
    Err(cx.at(
        g.model.span(),
        format!(
            "unknown model \"{name}\"; valid models are: {}{}",
            all.join(", "),
            crate::suggest::hint(name, all.iter().copied(), |k| format!("\"{k}\""))
        ),
    ))
}

/// Check a group's common keys, in the order of the keys' documentation.
fn group(cx: &Ctx, g: &DeviceGroupTable, user: &[Arc<UserModel>]) -> Res<Group> {
    let kind = kind_of(cx, g, user)?;
    check_keys(cx, g, &kind)?;
    let count = count_of(cx, g.count.as_ref(), &g.id, "id")?;
    let publish_every = publish_every(cx, g, &kind)?;
    let jitter = g
        .jitter
        .as_ref()
        .map_or(publish_every, |j| j.get_ref().secs());
    let battery = battery(cx, g)?;
    let gateways = gateways::of_group(cx, g, count)?;
    let faults = g
        .faults
        .iter()
        .map(|f| faults::spec(cx, f, &kind, true, gateways.is_some()))
        .collect::<Res<Vec<_>>>()?;
    if kind.needs_environment() && g.environment.is_none() {
        return Err(cx.at(
            g.model.span(),
            format!(
                "a {} lives in a room: add environment = \"<name>\" naming an [[environment]]",
                kind.name()
            ),
        ));
    }
    Ok(Group {
        kind,
        count,
        publish_every,
        jitter,
        battery,
        faults,
        gateways,
    })
}

/// Reject model parameters given to a model that does not take them.
fn check_keys(cx: &Ctx, g: &DeviceGroupTable, kind: &ModelKind) -> Res<()> {
    let given: [(&str, Option<Range<usize>>); 11] = [
        ("initial", g.initial.as_ref().map(Spanned::span)),
        ("power_w", g.power_w.as_ref().map(Spanned::span)),
        ("setpoint", g.setpoint.as_ref().map(Spanned::span)),
        ("hysteresis", g.hysteresis.as_ref().map(Spanned::span)),
        ("sensor", g.sensor.as_ref().map(Spanned::span)),
        ("heater", g.heater.as_ref().map(Spanned::span)),
        (
            "events_per_hour",
            g.events_per_hour.as_ref().map(Spanned::span),
        ),
        ("hold", g.hold.as_ref().map(Spanned::span)),
        ("base_load_w", g.base_load_w.as_ref().map(Spanned::span)),
        ("irrigated_by", g.irrigated_by.as_ref().map(Spanned::span)),
        ("dry_per_day", g.dry_per_day.as_ref().map(Spanned::span)),
    ];
    for (key, span) in given {
        let Some(span) = span else { continue };
        if !kind.param_keys().contains(&key) {
            let accepted: Vec<&str> = COMMON_KEYS
                .iter()
                .chain(kind.param_keys())
                .copied()
                .collect();
            return Err(cx.at(
                span,
                format!(
                    "\"{key}\" does not apply to model \"{}\"; it accepts: {}",
                    kind.name(),
                    accepted.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// `publish_every`, or the model's default; no faster than the part can measure.
fn publish_every(cx: &Ctx, g: &DeviceGroupTable, kind: &ModelKind) -> Res<f64> {
    let Some(p) = &g.publish_every else {
        return Ok(kind.default_publish_every());
    };
    let v = positive(cx, p, "publish_every")?;
    fast_enough(cx, p, v, kind, || format!("a {}", kind.name()))?;
    Ok(v)
}

/// `battery_mah` with its `drain_mah` (0.05 mAh a publish by default).
fn battery(cx: &Ctx, g: &DeviceGroupTable) -> Res<Option<BatterySpec>> {
    let Some(cap) = &g.battery_mah else {
        if let Some(d) = &g.drain_mah {
            return Err(cx.at(d.span(), "drain_mah needs battery_mah beside it"));
        }
        return Ok(None);
    };
    Ok(Some(BatterySpec {
        capacity_mah: positive_f(cx, cap, "battery_mah")?,
        drain_mah: match &g.drain_mah {
            Some(d) => positive_f(cx, d, "drain_mah")?,
            None => 0.05,
        },
    }))
}

/// The environments by name, for groups to find theirs.
struct Rooms<'a> {
    index: HashMap<&'a str, usize>,
    all: &'a [EnvironmentSpec],
}

impl Rooms<'_> {
    /// The environment of device `id` (the `n`th of its group), if its group names one.
    fn of(&self, cx: &Ctx, g: &DeviceGroupTable, n: usize, id: &str) -> Res<Option<usize>> {
        let Some(t) = &g.environment else {
            return Ok(None);
        };
        placeholders(cx, t, &["n"])?;
        let env_name = expand_n(t.get_ref(), n);
        let found = self.index.get(env_name.as_str()).ok_or_else(|| {
            cx.at(
                t.span(),
                format!(
                    "environment \"{env_name}\" (for device \"{id}\") is not defined; defined environments: {}",
                    list_or_none(self.all.iter().map(|e| e.name.as_str()))
                ),
            )
        })?;
        Ok(Some(*found))
    }
}

/// Add the group's `count` devices, each with its id and environment.
fn add_devices(
    cx: &Ctx,
    g: &DeviceGroupTable,
    gi: usize,
    group: &Group,
    rooms: &Rooms,
    fleet: &mut Fleet,
) -> Res<()> {
    placeholders(cx, &g.id, &["n"])?;
    for n in 1..=group.count {
        let id = expand_n(g.id.get_ref(), n);
        if id.is_empty() || id.contains(['/', '+', '#']) {
            return Err(cx.at(
                g.id.span(),
                format!(
                    "device id \"{}\" cannot be used in a topic; expected no '/', '+' or '#'",
                    shown(&id)
                ),
            ));
        }
        if let Some(problem) = mqtt_string_problem(&id) {
            return Err(cx.at(
                g.id.span(),
                format!("device id \"{}\" {problem}", shown(&id)),
            ));
        }
        let environment = rooms.of(cx, g, n, &id)?;
        if fleet.ids.insert(id.clone(), fleet.devices.len()).is_some() {
            return Err(cx.at(
                g.id.span(),
                format!("device id \"{id}\" is used twice; expected ids unique in the fleet"),
            ));
        }
        if fleet.devices.len() >= MAX_DEVICES {
            return Err(cx.at(
                g.count.as_ref().map_or(g.id.span(), Spanned::span),
                format!("the fleet has more than {MAX_DEVICES} devices; expected fewer"),
            ));
        }
        fleet.ns.push(n);
        fleet.devices.push(DeviceSpec {
            id,
            group: gi,
            model: ModelSpec::Battery, // replaced in pass 2
            environment,
            publish_every: group.publish_every,
            jitter: group.jitter,
            battery: group.battery,
            faults: group.faults.clone(),
            gateway: group.gateways.as_ref().map(|gw| gw.of(n)),
        });
    }
    Ok(())
}
