//! `[scenario]`: the name, fleet, length, pacing and start date of the run, and its tick,
//! which is checked against the devices' publish periods once they are known.

use super::check::{Ctx, Res, mqtt_string_problem, positive, shown};
use crate::device::DeviceSpec;
use crate::duration::Dur;
use crate::raw::{ScenarioTable, Speed};
use toml::Spanned;

/// Sim time 0 when `start` is not given: 2026-01-15T00:00:00Z, a winter midnight, so
/// heating scenarios have work to do.
const DEFAULT_START_EPOCH: f64 = 1_768_435_200.0;

/// The `[scenario]` values that need no other table.
pub(super) struct Header {
    /// `name`, trimmed.
    pub(super) name: String,
    /// `fleet`, or the name.
    pub(super) fleet: String,
    /// `duration`, seconds.
    pub(super) duration: f64,
    /// `speed`, or real time.
    pub(super) speed: Speed,
    /// `start` as Unix seconds.
    pub(super) start_epoch: f64,
}

/// Check everything in `[scenario]` but the tick.
pub(super) fn header(cx: &Ctx, s: &ScenarioTable) -> Res<Header> {
    let name = s.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(cx.at(
            s.name.span(),
            "scenario name is empty; expected a short name",
        ));
    }
    let fleet = fleet_name(cx, s, &name)?;
    let duration = positive(cx, &s.duration, "duration")?;
    let speed = s
        .speed
        .as_ref()
        .map_or(Speed::Factor(1.0), |sp| *sp.get_ref());
    let start_epoch = match &s.start {
        Some(text) => start_epoch(cx, text)?,
        None => DEFAULT_START_EPOCH,
    };
    Ok(Header {
        name,
        fleet,
        duration,
        speed,
        start_epoch,
    })
}

/// The fleet name goes into every topic, so it may not hold MQTT's separators or wildcards.
fn fleet_name(cx: &Ctx, s: &ScenarioTable, name: &str) -> Res<String> {
    let fleet = match &s.fleet {
        Some(f) => f.get_ref().clone(),
        None => name.to_string(),
    };
    let fleet_span = s.fleet.as_ref().map_or(s.name.span(), Spanned::span);
    if fleet.is_empty() || fleet.contains(['/', '+', '#']) {
        return Err(cx.at(
            fleet_span,
            format!("fleet name \"{}\" cannot be used in a topic; expected a name without '/', '+' or '#'", shown(&fleet)),
        ));
    }
    if let Some(problem) = mqtt_string_problem(&fleet) {
        return Err(cx.at(
            fleet_span,
            format!("fleet name \"{}\" {problem}", shown(&fleet)),
        ));
    }
    Ok(fleet)
}

/// `start` as Unix seconds.
fn start_epoch(cx: &Ctx, text: &Spanned<String>) -> Res<f64> {
    Ok(humantime::parse_rfc3339_weak(text.get_ref())
        .map_err(|e| {
            cx.at(
                text.span(),
                format!("start \"{}\" is not a date ({e}); expected RFC 3339 like \"2026-01-15T06:00:00Z\"", text.get_ref()),
            )
        })?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64()))
}

/// `tick`, or the shortest publish period (kept between 1 ms and 1 s): no device may
/// publish more often than the sim steps, and the run must last at least one tick.
pub(super) fn tick(cx: &Ctx, s: &ScenarioTable, devices: &[DeviceSpec], duration: f64) -> Res<f64> {
    let shortest = devices
        .iter()
        .map(|d| d.publish_every)
        .fold(f64::INFINITY, f64::min);
    let tick = match &s.tick {
        Some(t) => {
            let v = positive(cx, t, "tick")?;
            if v > shortest {
                return Err(cx.at(
                    t.span(),
                    format!(
                        "tick {} is longer than the shortest publish_every ({}); expected a tick no longer than any publish period",
                        t.get_ref(),
                        Dur(shortest)
                    ),
                ));
            }
            v
        }
        None => shortest.clamp(0.001, 1.0),
    };
    if tick > duration {
        return Err(cx.at(
            s.duration.span(),
            "duration is shorter than one tick; expected a longer run",
        ));
    }
    Ok(tick)
}
