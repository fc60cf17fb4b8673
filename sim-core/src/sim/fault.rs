//! Fault injection systems: faults strike devices at random (`per_hour`) or from the
//! timeline, alter what they publish, and every one is written to the
//! [`GroundTruth`](crate::fault::GroundTruth).

use super::io::{Io, SessionCommand};
use super::resources::SimClock;
use crate::fault::{FaultRecord, GroundTruth};
use crate::model::{DeviceIndex, Link, Publisher, Staged};
use crate::wire::Value;
use bevy_ecs::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use scenarios::{FaultKind, FaultSpec};

/// A fault in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveFault {
    /// What it is (sensor resolved).
    pub spec: FaultSpec,
    /// Sim time it struck.
    pub start: f64,
    /// Sim time it ends.
    pub end: f64,
    /// Value a stuck reading holds.
    pub held: Option<f64>,
}

/// A device's faults: what may strike it, what is striking now, and its own random stream
/// (separate from the device's sensor noise, so adding faults changes no clean reading).
#[derive(Component, Debug, Clone)]
pub struct Faults {
    /// Random faults of the device's group.
    pub plan: Vec<FaultSpec>,
    /// In progress.
    pub active: Vec<ActiveFault>,
    /// Onsets and spike signs.
    pub rng: ChaCha8Rng,
    /// Reading used when a per-sensor fault names none.
    pub default_sensor: Option<&'static str>,
    /// Faults that struck this device's gateway this step (`on = "gateway"`), for
    /// [`spread_gateway_faults`](super::gateway::spread_gateway_faults) to spread.
    pub gateway_strikes: Vec<FaultSpec>,
}

/// Start a fault on a device now.
pub(crate) fn activate(
    faults: &mut Faults,
    spec: &FaultSpec,
    now: f64,
    device: u32,
    link: &mut Link,
    io: &Io,
    truth: &mut GroundTruth,
) {
    if faults.active.iter().any(|a| a.spec.kind == spec.kind) || link.dead {
        return;
    }
    if spec.on_gateway {
        faults.gateway_strikes.push(spec.clone());
        return;
    }
    let mut spec = spec.clone();
    if spec.kind.is_per_sensor() && spec.sensor.is_none() {
        spec.sensor = faults.default_sensor.map(str::to_string);
    }
    let end = now + spec.duration;
    let record = |truth: &mut GroundTruth, end: f64| {
        truth.0.push(FaultRecord {
            device_index: device,
            device: String::new(),
            sensor: spec.sensor.clone(),
            kind: spec.kind.name().to_string(),
            start: now,
            end,
        });
    };
    match spec.kind {
        // These strike the next message; recorded when applied.
        FaultKind::Spike | FaultKind::Duplicate | FaultKind::Reorder => {}
        FaultKind::BatteryDeath => {
            link.dead = true;
            io.session(SessionCommand::Disconnect(device));
            record(truth, f64::INFINITY);
            return;
        }
        FaultKind::Offline => {
            if !link.online {
                return;
            }
            link.online = false;
            io.session(SessionCommand::Disconnect(device));
            record(truth, end);
        }
        FaultKind::Stuck
        | FaultKind::Drift
        | FaultKind::Noise
        | FaultKind::ClockSkew
        | FaultKind::Dropout => record(truth, end),
    }
    faults.active.push(ActiveFault {
        end: if spec.duration > 0.0 {
            end
        } else {
            f64::INFINITY
        },
        spec,
        start: now,
        held: None,
    });
}

/// Random onsets: each planned fault strikes as a Poisson process of rate `per_hour`.
pub(crate) fn strike_random_faults(
    clock: Res<SimClock>,
    io: Res<Io>,
    mut truth: ResMut<GroundTruth>,
    mut q: Query<(&DeviceIndex, &mut Faults, &mut Link)>,
) {
    for (idx, mut faults, mut link) in &mut q {
        if faults.plan.is_empty() {
            continue;
        }
        let plan = faults.plan.clone();
        for spec in &plan {
            let p = 1.0 - (-spec.per_hour * clock.tick / 3600.0).exp();
            if faults.rng.random_bool(p.clamp(0.0, 1.0)) {
                activate(
                    &mut faults,
                    spec,
                    clock.now,
                    idx.0,
                    &mut link,
                    &io,
                    &mut truth,
                );
            }
        }
    }
}

/// End faults whose time is up; an offline device connects again.
pub(crate) fn end_faults(
    clock: Res<SimClock>,
    io: Res<Io>,
    mut q: Query<(&DeviceIndex, &mut Faults, &mut Link)>,
) {
    for (idx, mut faults, mut link) in &mut q {
        if faults.active.is_empty() {
            continue;
        }
        let now = clock.now;
        faults.active.retain(|a| {
            if a.end > now + 1e-9 {
                return true;
            }
            if a.spec.kind == FaultKind::Offline && !link.dead {
                link.online = true;
                io.session(SessionCommand::Reconnect(idx.0));
            }
            false
        });
    }
}

fn reading_mut<'a>(staged: &'a mut Staged, name: &str) -> Option<&'a mut f64> {
    staged
        .readings
        .iter_mut()
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| match v {
            Value::Float(f) => Some(f),
            _ => None,
        })
}

/// Alter this tick's message by the faults in progress.
pub(crate) fn apply_faults(
    clock: Res<SimClock>,
    mut truth: ResMut<GroundTruth>,
    mut q: Query<(&DeviceIndex, &mut Publisher, &mut Faults, &mut Staged)>,
) {
    let now = clock.now;
    for (idx, mut p, mut faults, mut staged) in &mut q {
        if !p.due || faults.active.is_empty() {
            continue;
        }
        let Faults { active, rng, .. } = &mut *faults;
        let mut done = Vec::new();
        for (i, a) in active.iter_mut().enumerate() {
            if let Some(struck) = alter(a, &mut p, &mut staged, rng, now) {
                truth
                    .0
                    .push(FaultRecord::point(idx.0, struck, a.spec.kind.name(), now));
                done.push(i);
            }
        }
        for i in done.into_iter().rev() {
            active.remove(i);
        }
    }
}

/// Apply one fault to this tick's message. `Some(sensor)` when a one-message fault
/// (spike, duplicate, reorder) struck and is done: it is then recorded with that sensor.
fn alter(
    a: &mut ActiveFault,
    publisher: &mut Publisher,
    staged: &mut Staged,
    rng: &mut ChaCha8Rng,
    now: f64,
) -> Option<Option<String>> {
    let sensor = a.spec.sensor.clone().unwrap_or_default();
    match a.spec.kind {
        FaultKind::Spike => {
            let v = reading_mut(staged, &sensor)?;
            let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
            *v = round2(*v + sign * a.spec.magnitude);
            return Some(Some(sensor));
        }
        FaultKind::Stuck => {
            if let Some(v) = reading_mut(staged, &sensor) {
                match a.held {
                    Some(h) => *v = h,
                    None => a.held = Some(*v),
                }
            }
        }
        FaultKind::Drift => {
            if let Some(v) = reading_mut(staged, &sensor) {
                *v = round2(*v + a.spec.magnitude * (now - a.start) / 3600.0);
            }
        }
        FaultKind::Noise => {
            if let Some(v) = reading_mut(staged, &sensor) {
                let z: f64 = rng.sample(StandardNormal);
                *v = round2(*v + z * 0.5 * a.spec.magnitude);
            }
        }
        FaultKind::Dropout => {
            publisher.due = false;
            staged.readings.clear();
            staged.expected.clear();
        }
        FaultKind::ClockSkew => staged.skew = a.spec.magnitude,
        FaultKind::Duplicate => {
            staged.duplicate = true;
            return Some(None);
        }
        FaultKind::Reorder => {
            staged.hold = true;
            return Some(None);
        }
        FaultKind::Offline | FaultKind::BatteryDeath => {}
    }
    None
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
