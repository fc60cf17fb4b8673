//! The first stage of a step: the clock, the timeline, operator steering and inbound
//! commands.

use super::fault::{Faults, activate};
use super::io::{InboundCommand, Io, SessionCommand};
use super::resources::{DeviceEntities, Driven, SimClock, SimStats, Timeline};
use crate::fault::{GroundTruth, Planned};
use crate::model::*;
use bevy_ecs::prelude::*;
use scenarios::{EventAction, SetValue};

/// Most inbound commands applied in one step, so a command flood cannot stall the clock.
const MAX_COMMANDS_PER_STEP: usize = 4096;

/// Count the step and move the clock to it.
pub(super) fn advance_clock(mut clock: ResMut<SimClock>, mut stats: ResMut<SimStats>) {
    stats.steps += 1;
    // Multiply rather than accumulate so the clock does not drift over long runs.
    clock.now = stats.steps as f64 * clock.tick;
}

type InputTargets<'a> = (
    &'a mut Publisher,
    &'a mut Link,
    Option<&'a mut Switch>,
    Option<&'a mut Thermostat>,
    &'a mut Faults,
    Option<&'a mut UserPart>,
);

/// One device's components as the query hands them out.
type TargetItem<'w, 's> = <InputTargets<'static> as bevy_ecs::query::QueryData>::Item<'w, 's>;

/// Timeline events that are due, operator steering, then inbound MQTT commands.
pub(super) fn apply_inputs(
    clock: Res<SimClock>,
    mut timeline: ResMut<Timeline>,
    mut io: ResMut<Io>,
    mut stats: ResMut<SimStats>,
    mut truth: ResMut<GroundTruth>,
    entities: Res<DeviceEntities>,
    mut targets: Query<InputTargets>,
) {
    let due = due_actions(clock.now, &mut timeline, &mut io);
    let tl = &mut *timeline;
    let (planned, driven) = (&mut tl.planned, &tl.driven);
    for (devices, action) in due {
        for &d in &devices {
            let Some(&entity) = entities.0.get(d) else {
                continue;
            };
            let Ok(target) = targets.get_mut(entity) else {
                continue;
            };
            let at = Target {
                device: d as u32,
                now: clock.now,
                io: &io,
                stats: &mut stats,
                truth: &mut truth,
                planned,
                driven,
            };
            apply_action(&action, target, at);
        }
    }
    let at = (clock.now, planned, driven);
    apply_commands(&mut io, &entities, &mut targets, &mut stats, at);
}

/// The timeline's events up to `now` (moving its cursor on), then what the operator
/// steers, at most [`MAX_COMMANDS_PER_STEP`] of those.
fn due_actions(now: f64, timeline: &mut Timeline, io: &mut Io) -> Vec<(Vec<usize>, EventAction)> {
    let mut due: Vec<(Vec<usize>, EventAction)> = Vec::new();
    while let Some(ev) = timeline.events.get(timeline.next) {
        if ev.at > now + 1e-9 {
            break;
        }
        due.push((ev.devices.clone(), ev.action.clone()));
        timeline.next += 1;
    }
    if let Some(rx) = io.0.steer.as_mut() {
        for _ in 0..MAX_COMMANDS_PER_STEP {
            let Ok(s) = rx.try_recv() else { break };
            due.push((vec![s.device as usize], s.action));
        }
    }
    due
}

/// Where a timeline action lands and what it may touch besides the device.
struct Target<'a> {
    device: u32,
    now: f64,
    io: &'a Io,
    stats: &'a mut SimStats,
    truth: &'a mut GroundTruth,
    planned: &'a mut Planned,
    driven: &'a Driven,
}

/// Apply one timeline (or steering) action to one device.
fn apply_action(
    action: &EventAction,
    (mut publisher, mut link, switch, thermostat, mut faults, user): TargetItem,
    at: Target,
) {
    match action {
        EventAction::Set(set) => {
            if apply_set(set, switch, thermostat, user) {
                publisher.force = true;
                at.stats.commands_applied += 1;
                at.planned
                    .command(at.device, at.now, at.driven.of(at.device));
            } else {
                at.stats.commands_rejected += 1;
            }
        }
        EventAction::Disconnect => {
            if link.online && !link.dead {
                at.planned.disconnect(at.device, at.now);
            }
            link.online = false;
            at.io.session(SessionCommand::Disconnect(at.device));
        }
        EventAction::Reconnect => {
            if !link.dead {
                link.online = true;
                at.planned.reconnect(at.device, at.now);
                at.io.session(SessionCommand::Reconnect(at.device));
            }
        }
        EventAction::Rate(every) => {
            publisher.every = *every;
            publisher.next_at = at.now + every;
            at.planned.rate(at.device, at.now);
        }
        EventAction::Fault(spec) => activate(
            &mut faults,
            spec,
            at.now,
            at.device,
            &mut link,
            at.io,
            at.truth,
        ),
    }
}

/// Commands that came in over MQTT, at most [`MAX_COMMANDS_PER_STEP`] a step.
fn apply_commands(
    io: &mut Io,
    entities: &DeviceEntities,
    targets: &mut Query<InputTargets>,
    stats: &mut SimStats,
    (now, planned, driven): (f64, &mut Planned, &Driven),
) {
    for _ in 0..MAX_COMMANDS_PER_STEP {
        let Ok(InboundCommand { device, set }) = io.0.commands.try_recv() else {
            break;
        };
        let Some(&entity) = entities.0.get(device as usize) else {
            stats.commands_rejected += 1;
            continue;
        };
        let Ok((mut publisher, _, switch, thermostat, _, user)) = targets.get_mut(entity) else {
            stats.commands_rejected += 1;
            continue;
        };
        if apply_set(&set, switch, thermostat, user) {
            publisher.force = true;
            stats.commands_applied += 1;
            planned.command(device, now, driven.of(device));
        } else {
            tracing::warn!(
                device,
                ?set,
                "command refused: key or value type not accepted by this device"
            );
            stats.commands_rejected += 1;
        }
    }
}

/// Apply `{"set":{...}}` to an actuator (or a user model's states and named commands);
/// false if any key does not fit the device.
fn apply_set(
    set: &[(String, SetValue)],
    mut switch: Option<Mut<Switch>>,
    mut thermostat: Option<Mut<Thermostat>>,
    user: Option<Mut<UserPart>>,
) -> bool {
    if let Some(mut u) = user {
        return u.0.apply(set);
    }
    // Check everything first so a command applies whole or not at all.
    let fits = set.iter().all(|(k, v)| match (k.as_str(), v) {
        ("on", SetValue::Bool(_)) => switch.is_some(),
        ("setpoint", SetValue::Number(x)) => thermostat.is_some() && x.is_finite(),
        ("enabled", SetValue::Bool(_)) => thermostat.is_some(),
        _ => false,
    });
    if !fits || set.is_empty() {
        return false;
    }
    for (k, v) in set {
        match (k.as_str(), v) {
            ("on", SetValue::Bool(b)) => {
                if let Some(s) = switch.as_mut() {
                    s.on = *b;
                }
            }
            ("setpoint", SetValue::Number(x)) => {
                if let Some(t) = thermostat.as_mut() {
                    t.setpoint = *x;
                }
            }
            ("enabled", SetValue::Bool(b)) => {
                if let Some(t) = thermostat.as_mut() {
                    t.enabled = *b;
                }
            }
            _ => {}
        }
    }
    true
}
