//! `[[models]]`: user-defined device models, from the scenario and from the libraries it
//! includes. Each is checked whole (names, generators, datasheet properties, states,
//! commands, transitions, expressions) before any device names it.

use super::check::{Ctx, Res, non_negative_f, pair, positive};
use super::exprs;
use crate::catalog::ModelKind;
use crate::raw_model::{ModelTable, ReadingTable, StateTable};
use crate::user_model::{
    BUILTIN_VARS, ExprValue, FIRST_READING, Generator, NO_ROOM, NamedCommand, StateKind,
    Transition, UserModel, UserReading, UserState,
};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use toml::Spanned;

/// Payload keys a reading or state may not take.
const RESERVED: &[&str] = &["device_id", "seq", "timestamp", "sent_us", "command"];

/// Check `tables` (all from the file `cx` points into) and add them to `models`; a name
/// already there (from another file) or a built-in model's is refused.
pub(crate) fn expand(cx: &Ctx, tables: &[ModelTable], models: &mut Vec<UserModel>) -> Res<()> {
    for t in tables {
        let name = t.name.get_ref();
        if ModelKind::from_name(name).is_some() {
            return Err(cx.at(
                t.name.span(),
                format!("model \"{name}\" is a built-in model's name; expected a name of its own"),
            ));
        }
        if models.iter().any(|m| &m.name == name) {
            return Err(cx.at(
                t.name.span(),
                format!("model \"{name}\" is defined twice; expected model names unique"),
            ));
        }
        models.push(model(cx, t)?);
    }
    Ok(())
}

/// One model.
fn model(cx: &Ctx, t: &ModelTable) -> Res<UserModel> {
    if t.readings.is_empty() {
        return Err(cx.at(
            t.name.span(),
            format!(
                "model \"{}\" has no readings; expected at least one under [models.readings]",
                t.name.get_ref()
            ),
        ));
    }
    let publish_every = match &t.publish_every {
        Some(p) => positive(cx, p, "publish_every")?,
        None => 10.0,
    };
    let (vars, var_index) = scope_names(cx, t)?;
    let states = t
        .state
        .iter()
        .map(|(n, s)| state(cx, n, s))
        .collect::<Res<Vec<_>>>()?;
    let mut m = UserModel {
        name: t.name.get_ref().clone(),
        publish_every,
        readings: Vec::new(),
        order: Vec::new(),
        states,
        commands: Vec::new(),
        transitions: Vec::new(),
        uses_environment: false,
        vars,
        var_index,
    };
    readings(cx, t, &mut m)?;
    m.commands = t
        .commands
        .iter()
        .map(|(n, set)| {
            Ok(NamedCommand {
                name: n.get_ref().clone(),
                set: sets(
                    cx,
                    &m,
                    set.get_ref(),
                    &format!("command \"{}\"", n.get_ref()),
                )?,
            })
        })
        .collect::<Res<_>>()?;
    transitions(cx, t, &mut m)?;
    Ok(m)
}

/// Every name an expression may read, builtins first, then readings, then states; a
/// reading or state name must be an identifier, not reserved, and not used twice.
fn scope_names(cx: &Ctx, t: &ModelTable) -> Res<(Vec<String>, HashMap<String, usize>)> {
    let mut vars: Vec<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    let names = t.readings.keys().chain(t.state.keys());
    for n in names {
        let s = n.get_ref();
        let ident = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(cx.at(n.span(), format!("\"{s}\" cannot name a reading or state; expected letters, digits and '_', not starting with a digit")));
        }
        if RESERVED.contains(&s.as_str()) || BUILTIN_VARS.contains(&s.as_str()) {
            return Err(cx.at(
                n.span(),
                format!(
                    "\"{s}\" is reserved; expected another name (reserved: {}, {})",
                    RESERVED.join(", "),
                    BUILTIN_VARS.join(", ")
                ),
            ));
        }
        if vars.contains(s) {
            return Err(cx.at(
                n.span(),
                format!("\"{s}\" names both a reading and a state; expected each name once"),
            ));
        }
        vars.push(s.clone());
    }
    let index = vars
        .iter()
        .enumerate()
        .map(|(i, v)| (v.clone(), i))
        .collect();
    Ok((vars, index))
}

/// The readings, their evaluation order, and a trial of every expression.
fn readings(cx: &Ctx, t: &ModelTable, m: &mut UserModel) -> Res<()> {
    let n = t.readings.len();
    let reading_vars = FIRST_READING..FIRST_READING + n;
    let mut deps = Vec::with_capacity(n);
    let mut spans = Vec::with_capacity(n);
    for (name, r) in &t.readings {
        let generator = generator(cx, name, r, &m.var_index)?;
        if let Generator::Expr(e) = &generator {
            deps.push(
                exprs::reads(e, &m.var_index, reading_vars.clone())
                    .into_iter()
                    .map(|v| v - FIRST_READING)
                    .collect(),
            );
            m.uses_environment |= e
                .node
                .iter_read_variable_identifiers()
                .any(|v| v.starts_with("env_"));
        } else {
            deps.push(Vec::new());
        }
        spans.push(r.get_ref().expr.as_ref().map_or(name.span(), Spanned::span));
        m.readings
            .push(datasheet(cx, name, r.get_ref(), generator)?);
    }
    let names: Vec<&str> = t.readings.keys().map(|k| k.get_ref().as_str()).collect();
    m.order = exprs::order(cx, &deps, &names, &spans)?;
    trial_readings(cx, m, &spans)
}

/// Evaluate every expression once, in order, with the start values.
fn trial_readings(cx: &Ctx, m: &UserModel, spans: &[Range<usize>]) -> Res<()> {
    let mut values = start_values(m);
    for &i in &m.order {
        let v = match &m.readings[i].generator {
            Generator::Expr(e) => {
                exprs::trial(cx, spans[i].clone(), e, &m.var_index, &values, false)?
            }
            g => ExprValue::Float(typical(g)),
        };
        values[FIRST_READING + i] = v;
    }
    Ok(())
}

/// The scope at sim time 0 with a mild room: readings 0 until computed, states initial.
pub(crate) fn start_values(m: &UserModel) -> Vec<ExprValue> {
    let mut v = vec![ExprValue::Float(0.0), ExprValue::Float(0.0)];
    v.extend(NO_ROOM.map(ExprValue::Float));
    v.extend(
        m.readings
            .iter()
            .map(|r| ExprValue::Float(typical(&r.generator))),
    );
    v.extend(m.states.iter().map(|s| s.initial.clone()));
    v
}

/// A generator's value at the start, for trials.
fn typical(g: &Generator) -> f64 {
    match g {
        Generator::Constant(x) => *x,
        Generator::Uniform(lo, hi) => (lo + hi) / 2.0,
        Generator::Normal { mean, .. } | Generator::Sine { mean, .. } => *mean,
        Generator::RandomWalk { start, .. } => *start,
        Generator::Ramp { from, .. } => *from,
        Generator::Sequence(v) | Generator::Pick(v) => v.first().copied().unwrap_or(0.0),
        Generator::Expr(_) => 0.0,
    }
}

/// A reading's one generator.
fn generator(
    cx: &Ctx,
    name: &Spanned<String>,
    r: &Spanned<ReadingTable>,
    known: &HashMap<String, usize>,
) -> Res<Generator> {
    let t = r.get_ref();
    let given = [
        t.constant.is_some(),
        t.uniform.is_some(),
        t.normal.is_some(),
        t.random_walk.is_some(),
        t.sine.is_some(),
        t.ramp.is_some(),
        t.sequence.is_some(),
        t.pick.is_some(),
        t.expr.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(cx.at(
            r.span(),
            format!(
                "reading \"{}\" needs exactly one generator; expected one of constant, uniform, normal, random_walk, sine, ramp, sequence, pick, expr",
                name.get_ref()
            ),
        ));
    }
    super::generators::of(cx, t, known)
}

/// The datasheet properties around a generator.
fn datasheet(
    cx: &Ctx,
    name: &Spanned<String>,
    t: &ReadingTable,
    generator: Generator,
) -> Res<UserReading> {
    let fail_rate = match &t.fail_rate {
        Some(f) if !(0.0..=1.0).contains(f.get_ref()) => {
            return Err(cx.at(
                f.span(),
                format!(
                    "fail_rate is {}; expected a chance from 0 to 1",
                    f.get_ref()
                ),
            ));
        }
        Some(f) => *f.get_ref(),
        None => 0.0,
    };
    let resolution = match &t.resolution {
        Some(r) => Some(super::check::positive_f(cx, r, "resolution")?),
        None => None,
    };
    Ok(UserReading {
        name: name.get_ref().clone(),
        generator,
        unit: t.unit.as_ref().map(|u| u.get_ref().clone()),
        resolution,
        range: t.range.as_ref().map(|r| pair(cx, r, "range")).transpose()?,
        accuracy: t
            .accuracy
            .as_ref()
            .map_or(Ok(0.0), |a| non_negative_f(cx, a, "accuracy"))?,
        noise: t
            .noise
            .as_ref()
            .map_or(Ok(0.0), |a| non_negative_f(cx, a, "noise"))?,
        fail_rate,
        analyse: t.analyse.unwrap_or(true),
    })
}

/// One state variable.
fn state(cx: &Ctx, name: &Spanned<String>, t: &Spanned<StateTable>) -> Res<UserState> {
    let s = t.get_ref();
    let kind = match (&s.values, s.initial.get_ref()) {
        (Some(words), _) if words.get_ref().is_empty() => {
            return Err(cx.at(
                words.span(),
                "values is empty; expected the words this state may hold",
            ));
        }
        (Some(words), _) => StateKind::Enum(words.get_ref().clone()),
        (None, toml::Value::Boolean(_)) => StateKind::Bool,
        (None, toml::Value::Integer(_) | toml::Value::Float(_)) => {
            StateKind::Number(s.range.as_ref().map(|r| pair(cx, r, "range")).transpose()?)
        }
        (None, _) => {
            return Err(cx.at(s.initial.span(), format!("state \"{}\" starts as {}; expected true/false, a number, or a word with values = [...] beside it", name.get_ref(), s.initial.get_ref())));
        }
    };
    let mut st = UserState {
        name: name.get_ref().clone(),
        kind,
        initial: ExprValue::Empty,
        publish: s.publish.unwrap_or(true),
    };
    st.initial = value_for(cx, &st, &s.initial)?;
    Ok(st)
}

/// A value written for `state`, as the state holds it.
fn value_for(cx: &Ctx, state: &UserState, v: &Spanned<toml::Value>) -> Res<ExprValue> {
    let value = match v.get_ref() {
        toml::Value::Boolean(b) => ExprValue::Boolean(*b),
        toml::Value::Integer(i) => ExprValue::Float(*i as f64),
        toml::Value::Float(x) => ExprValue::Float(*x),
        toml::Value::String(s) => ExprValue::String(s.clone()),
        other => ExprValue::String(other.to_string()),
    };
    if !state.kind.admits(&value) {
        return Err(cx.at(
            v.span(),
            format!(
                "state \"{}\" cannot hold {}; expected {}",
                state.name,
                v.get_ref(),
                state.kind.describe()
            ),
        ));
    }
    Ok(value)
}

/// `{ state = value, ... }` of a command or transition; `what` names it in messages.
fn sets(
    cx: &Ctx,
    m: &UserModel,
    set: &BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    what: &str,
) -> Res<Vec<(usize, ExprValue)>> {
    set.iter()
        .map(|(k, v)| {
            let i = m.state(k.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = m.states.iter().map(|s| s.name.as_str()).collect();
                cx.at(
                    k.span(),
                    format!(
                        "{what} sets \"{}\", which is not a state of model \"{}\"; its states: {}{}",
                        k.get_ref(),
                        m.name,
                        super::check::list_or_none(names.iter().copied()),
                        crate::suggest::hint(k.get_ref(), names.iter().copied(), |s| format!("\"{s}\""))
                    ),
                )
            })?;
            Ok((i, value_for(cx, &m.states[i], v)?))
        })
        .collect()
}

/// `[[models.transitions]]`: a condition (tried with the start values) and its sets.
fn transitions(cx: &Ctx, t: &ModelTable, m: &mut UserModel) -> Res<()> {
    let values = start_values(m);
    for tr in &t.transitions {
        let tt = tr.get_ref();
        let when = exprs::compile(cx, tt.when.span(), tt.when.get_ref(), &m.var_index)?;
        exprs::trial(cx, tt.when.span(), &when, &m.var_index, &values, true)?;
        if tt.set.is_empty() {
            return Err(cx.at(
                tr.span(),
                "this transition sets nothing; expected set = { state = value }",
            ));
        }
        let set = sets(cx, m, &tt.set, "this transition")?;
        m.transitions.push(Transition { when, set });
    }
    Ok(())
}
