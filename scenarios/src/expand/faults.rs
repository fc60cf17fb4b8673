//! Fault tables: a group's `faults = [...]` (random, `per_hour`) and an event's
//! `fault = {...}` (at the event's time).

use super::check::{Ctx, Res, non_negative_f, positive_f};
use crate::catalog::ModelKind;
use crate::fault::{FaultKind, FaultSpec};
use crate::raw::FaultTable;

/// Check one fault table: a known kind, a sensor the model publishes, sane numbers.
/// Group faults (`random`) need `per_hour`; timeline faults must not have it.
/// `gatewayed`: the device publishes through a gateway, so `on = "gateway"` may apply.
pub(super) fn spec(
    cx: &Ctx,
    f: &FaultTable,
    model: &ModelKind,
    random: bool,
    gatewayed: bool,
) -> Res<FaultSpec> {
    let kind = FaultKind::from_name(f.kind.get_ref()).ok_or_else(|| {
        cx.at(
            f.kind.span(),
            format!(
                "unknown fault kind \"{}\"; valid kinds are: {}{}",
                f.kind.get_ref(),
                FaultKind::ALL.map(FaultKind::name).join(", "),
                crate::suggest::hint(
                    f.kind.get_ref(),
                    FaultKind::ALL.map(FaultKind::name),
                    |k| format!("\"{k}\"")
                )
            ),
        )
    })?;
    let sensor = sensor(cx, f, kind, model)?;
    let magnitude = match &f.magnitude {
        Some(m) => non_negative_f(cx, m, "magnitude")?,
        None => kind.default_magnitude(),
    };
    let duration = match &f.duration {
        Some(d) => d.get_ref().secs(),
        None => kind.default_duration(),
    };
    let per_hour = per_hour(cx, f, random)?;
    let on_gateway = on(cx, f, kind, gatewayed)?;
    Ok(FaultSpec {
        kind,
        sensor,
        magnitude,
        duration,
        per_hour,
        on_gateway,
    })
}

/// `on = "device"` (the default) or `on = "gateway"`: a gateway can go off line or
/// die, and only a device that publishes through one has a gateway to strike.
fn on(cx: &Ctx, f: &FaultTable, kind: FaultKind, gatewayed: bool) -> Res<bool> {
    let Some(on) = &f.on else { return Ok(false) };
    match on.get_ref().as_str() {
        "device" => Ok(false),
        "gateway" if !matches!(kind, FaultKind::Offline | FaultKind::BatteryDeath) => Err(cx.at(
            on.span(),
            format!(
                "a {} fault acts on the device itself; on = \"gateway\" applies to offline and battery_death",
                kind.name()
            ),
        )),
        "gateway" if !gatewayed => Err(cx.at(
            on.span(),
            "on = \"gateway\" needs a device that publishes through one; give its group gateway = \"<id>\"",
        )),
        "gateway" => Ok(true),
        other => Err(cx.at(
            on.span(),
            format!("on = \"{other}\" is not known; expected \"device\" or \"gateway\""),
        )),
    }
}

/// The reading a per-sensor fault alters: one the model publishes, if named; a whole-device
/// fault names none.
fn sensor(cx: &Ctx, f: &FaultTable, kind: FaultKind, model: &ModelKind) -> Res<Option<String>> {
    let sensor = match &f.sensor {
        Some(s) if !kind.is_per_sensor() => {
            return Err(cx.at(
                s.span(),
                format!(
                    "a {} fault affects the whole device; remove sensor",
                    kind.name()
                ),
            ));
        }
        Some(s) if !model.analysed_readings().contains(&s.get_ref().as_str()) => {
            return Err(cx.at(
                s.span(),
                format!(
                    "a {} has no reading \"{}\" to fault; expected one of: {}",
                    model.name(),
                    s.get_ref(),
                    if model.analysed_readings().is_empty() {
                        "none".to_string()
                    } else {
                        model.analysed_readings().join(", ")
                    }
                ),
            ));
        }
        Some(s) => Some(s.get_ref().clone()),
        None => None,
    };
    if kind.is_per_sensor() && model.analysed_readings().is_empty() {
        return Err(cx.at(
            f.kind.span(),
            format!(
                "a {} fault needs a measured reading, and a {} has none",
                kind.name(),
                model.name()
            ),
        ));
    }
    Ok(sensor)
}

/// How often a group fault strikes each device; 0 for a timeline fault.
fn per_hour(cx: &Ctx, f: &FaultTable, random: bool) -> Res<f64> {
    match (&f.per_hour, random) {
        (Some(p), true) => positive_f(cx, p, "per_hour"),
        (None, true) => Err(cx.at(
            f.kind.span(),
            "a fault in a device group needs per_hour (how often it strikes each device)",
        )),
        (Some(p), false) => Err(cx.at(
            p.span(),
            "per_hour applies to group faults; a timeline fault strikes at its event's time",
        )),
        (None, false) => Ok(0.0),
    }
}
