//! `[[events]]`: the timeline. Each event names its devices and one action (`set`,
//! `disconnect`, `reconnect`, `rate`, `fault`), checked against every device it reaches.

use super::check::{Ctx, References, Res, fast_enough, positive};
use super::faults;
use super::fleet::Fleet;
use super::targets::targets_of;
use crate::catalog::{CommandValueKind, ModelKind};
use crate::device::DeviceSpec;
use crate::duration::Dur;
use crate::raw::EventTable;
use crate::spec::{EventAction, EventSpec, SetValue};
use crate::user_model::UserModel;
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// Every event, sorted by time; each one's devices count against the reference limit.
pub(super) fn expand(
    cx: &Ctx,
    tables: &[EventTable],
    duration: f64,
    tick: f64,
    fleet: &Fleet,
    references: &mut References,
) -> Res<Vec<EventSpec>> {
    let mut events = Vec::new();
    for e in tables {
        let event = event_spec(cx, e, duration, tick, fleet)?;
        references.add(cx, e.target.span(), event.devices.len(), "this event")?;
        events.push(event);
    }
    events.sort_by(|a, b| a.at.total_cmp(&b.at));
    Ok(events)
}

fn event_spec(cx: &Ctx, e: &EventTable, duration: f64, tick: f64, fleet: &Fleet) -> Res<EventSpec> {
    let at = e.at.get_ref().secs();
    if at > duration {
        return Err(cx.at(
            e.at.span(),
            format!(
                "event at {} comes after the end of the run ({}); expected a time within the duration",
                e.at.get_ref(),
                Dur(duration)
            ),
        ));
    }
    let pattern = e.target.get_ref();
    let targets = targets_of(pattern, fleet);
    if targets.is_empty() {
        return Err(cx.at(
            e.target.span(),
            format!("target \"{pattern}\" matches no device; expected a device id or a pattern like \"thermo-*\""),
        ));
    }
    let devices = Targets {
        of: &targets,
        fleet,
    };
    let action = match e.action.get_ref().as_str() {
        "set" => set_action(cx, e, &devices)?,
        "disconnect" => EventAction::Disconnect,
        "reconnect" => EventAction::Reconnect,
        "rate" => rate_action(cx, e, tick, &devices)?,
        "fault" => fault_action(cx, e, &devices)?,
        other => {
            return Err(cx.at(
                e.action.span(),
                format!(
                    "action \"{other}\" is not known; expected set, disconnect, reconnect, rate or fault{}",
                    crate::suggest::hint(
                        other,
                        ["set", "disconnect", "reconnect", "rate", "fault"],
                        |k| format!("\"{k}\"")
                    )
                ),
            ));
        }
    };
    no_stray_keys(cx, e, &action)?;
    Ok(EventSpec {
        at,
        devices: targets,
        action,
    })
}

/// The devices an event reaches.
struct Targets<'a> {
    /// Their fleet indices.
    of: &'a [usize],
    fleet: &'a Fleet,
}

impl Targets<'_> {
    fn iter(&self) -> impl Iterator<Item = &DeviceSpec> {
        self.of.iter().map(|&t| &self.fleet.devices[t])
    }
}

/// `set = {...}`: every key a command each target takes, with a value of the right type.
fn set_action(cx: &Ctx, e: &EventTable, devices: &Targets) -> Res<EventAction> {
    let Some(set) = &e.set else {
        return Err(cx.at(
            e.action.span(),
            "action \"set\" needs a set table beside it, like set = { on = true }",
        ));
    };
    let mut values = Vec::new();
    for (key, value) in set.get_ref() {
        let v = set_value(cx, set, key, value)?;
        for d in devices.iter() {
            check_command(cx, set.span(), key, &v, d)?;
        }
        values.push((key.clone(), v));
    }
    if values.is_empty() {
        return Err(cx.at(set.span(), "set is empty; expected at least one key"));
    }
    Ok(EventAction::Set(values))
}

type SetTable = Spanned<BTreeMap<String, toml::Value>>;

fn set_value(cx: &Ctx, set: &SetTable, key: &str, value: &toml::Value) -> Res<SetValue> {
    Ok(match value {
        toml::Value::Boolean(b) => SetValue::Bool(*b),
        toml::Value::Integer(i) => SetValue::Number(*i as f64),
        toml::Value::Float(f) => SetValue::Number(*f),
        toml::Value::String(s) => SetValue::Text(s.clone()),
        other => {
            return Err(cx.at(
                set.span(),
                format!(
                    "set.{key} is a {}; expected a boolean, number or string",
                    other.type_str()
                ),
            ));
        }
    })
}

/// The device takes command `key`, and `v` is of the type it expects.
fn check_command(
    cx: &Ctx,
    span: Range<usize>,
    key: &str,
    v: &SetValue,
    device: &DeviceSpec,
) -> Res<()> {
    let kind = device.model.kind();
    if let ModelKind::User(m) = &kind
        && let Some(problem) = user_command_problem(m, key, v)
    {
        return Err(cx.at(
            span,
            format!("device \"{}\" (a {}): {problem}", device.id, m.name),
        ));
    }
    let keys = kind.command_keys();
    let Some((_, want)) = keys.iter().find(|(k, _)| *k == key) else {
        let accepted: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
        return Err(cx.at(
            span,
            format!(
                "device \"{}\" (a {}) takes no command \"{key}\"; it accepts: {}",
                device.id,
                kind.name(),
                if accepted.is_empty() {
                    "none (it is not an actuator)".to_string()
                } else {
                    accepted.join(", ")
                }
            ),
        ));
    };
    let fits = matches!(
        (want, v),
        (CommandValueKind::Bool, SetValue::Bool(_))
            | (CommandValueKind::Number, SetValue::Number(_))
            | (CommandValueKind::Word, SetValue::Text(_))
    );
    if !fits {
        return Err(cx.at(
            span,
            format!(
                "set.{key} for a {} expects a {}",
                kind.name(),
                match want {
                    CommandValueKind::Bool => "boolean",
                    CommandValueKind::Number => "number",
                    CommandValueKind::Word => "word",
                }
            ),
        ));
    }
    Ok(())
}

/// What is wrong with `key = v` for a user model: an unknown command name, or a value its
/// state cannot hold (`None`: nothing, or an unknown key, which the caller words).
fn user_command_problem(m: &UserModel, key: &str, v: &SetValue) -> Option<String> {
    if key == "command" {
        let names: Vec<&str> = m.commands.iter().map(|c| c.name.as_str()).collect();
        return match v {
            SetValue::Text(t) if names.contains(&t.as_str()) => None,
            _ => Some(format!(
                "command {v:?} is not one of its commands: {}",
                super::check::list_or_none(names.iter().copied())
            )),
        };
    }
    let st = &m.states[m.state(key)?];
    let value = v.to_expr();
    (!st.kind.admits(&value)).then(|| {
        format!(
            "state \"{key}\" cannot hold {v:?}; expected {}",
            st.kind.describe()
        )
    })
}

/// `publish_every = "..."`: at least a tick, and no faster than each target's part allows.
fn rate_action(cx: &Ctx, e: &EventTable, tick: f64, devices: &Targets) -> Res<EventAction> {
    let Some(p) = &e.publish_every else {
        return Err(cx.at(
            e.action.span(),
            "action \"rate\" needs publish_every beside it, like publish_every = \"5s\"",
        ));
    };
    let every = positive(cx, p, "publish_every")?;
    if every < tick {
        return Err(cx.at(
            p.span(),
            format!(
                "publish_every {} is shorter than the tick ({}); expected at least one tick",
                p.get_ref(),
                Dur(tick)
            ),
        ));
    }
    for d in devices.iter() {
        let kind = d.model.kind();
        fast_enough(cx, p, every, &kind, || {
            format!("{} (a {})", d.id, kind.name())
        })?;
    }
    Ok(EventAction::Rate(every))
}

/// `fault = {...}`: checked against every target's model; the last target's check is kept.
fn fault_action(cx: &Ctx, e: &EventTable, devices: &Targets) -> Res<EventAction> {
    let Some(f) = &e.fault else {
        return Err(cx.at(
            e.action.span(),
            "action \"fault\" needs a fault table beside it, like fault = { kind = \"stuck\", duration = \"10m\" }",
        ));
    };
    let mut spec = None;
    for d in devices.iter() {
        let gatewayed = d.gateway.is_some();
        spec = Some(faults::spec(
            cx,
            f.get_ref(),
            &d.model.kind(),
            false,
            gatewayed,
        )?);
    }
    match spec {
        Some(s) => Ok(EventAction::Fault(s)),
        None => Err(cx.at(f.span(), "fault has no target")),
    }
}

/// `fault`, `publish_every` and `set` belong to their own action only.
fn no_stray_keys(cx: &Ctx, e: &EventTable, action: &EventAction) -> Res<()> {
    if !matches!(action, EventAction::Fault(_))
        && let Some(f) = &e.fault
    {
        return Err(cx.at(f.span(), "fault applies only to action \"fault\""));
    }
    if !matches!(action, EventAction::Rate(_))
        && let Some(p) = &e.publish_every
    {
        return Err(cx.at(p.span(), "publish_every applies only to action \"rate\""));
    }
    if !matches!(action, EventAction::Set(_))
        && let Some(s) = &e.set
    {
        return Err(cx.at(s.span(), "set applies only to action \"set\""));
    }
    Ok(())
}
