//! A user reading's generator, checked: bounds in order, periods positive, lists not
//! empty, expressions compiled against the model's scope.

use super::check::{Ctx, Res};
use super::exprs;
use crate::raw_model::ReadingTable;
use crate::user_model::Generator;
use std::collections::HashMap;

/// The one generator `t` gives (the caller has checked there is exactly one).
pub(super) fn of(cx: &Ctx, t: &ReadingTable, known: &HashMap<String, usize>) -> Res<Generator> {
    if let Some(c) = &t.constant {
        return finite(cx, *c.get_ref(), c.span(), "constant").map(Generator::Constant);
    }
    if let Some(u) = &t.uniform {
        let (lo, hi) = super::check::pair(cx, u, "uniform")?;
        return Ok(Generator::Uniform(lo, hi));
    }
    if let Some(n) = &t.normal {
        let v = n.get_ref();
        if !(v.mean.is_finite() && v.sd.is_finite() && v.sd >= 0.0) {
            return Err(cx.at(
                n.span(),
                "normal needs a finite mean and an sd of zero or more",
            ));
        }
        return Ok(Generator::Normal {
            mean: v.mean,
            sd: v.sd,
        });
    }
    if let Some(w) = &t.random_walk {
        return walk(cx, w);
    }
    if let Some(s) = &t.sine {
        let v = s.get_ref();
        let period = v.period.secs();
        if !(period > 0.0 && v.mean.is_finite() && v.amplitude.is_finite()) {
            return Err(cx.at(
                s.span(),
                "sine needs a finite mean and amplitude and a period longer than zero",
            ));
        }
        return Ok(Generator::Sine {
            mean: v.mean,
            amplitude: v.amplitude,
            period,
            phase: v.phase.map_or(0.0, |p| p.secs()),
        });
    }
    if let Some(r) = &t.ramp {
        let v = r.get_ref();
        if !(v.from.is_finite() && v.per_hour.is_finite() && v.to.is_none_or(f64::is_finite)) {
            return Err(cx.at(r.span(), "ramp needs finite from, per_hour and to"));
        }
        return Ok(Generator::Ramp {
            from: v.from,
            per_hour: v.per_hour,
            to: v.to,
        });
    }
    if let Some(l) = t.sequence.as_ref().or(t.pick.as_ref()) {
        let key = if t.sequence.is_some() {
            "sequence"
        } else {
            "pick"
        };
        let v = l.get_ref();
        if v.is_empty() || v.iter().any(|x| !x.is_finite()) {
            return Err(cx.at(
                l.span(),
                format!("{key} needs at least one value, each a finite number"),
            ));
        }
        return Ok(if t.sequence.is_some() {
            Generator::Sequence(v.clone())
        } else {
            Generator::Pick(v.clone())
        });
    }
    let e = t.expr.as_ref().ok_or_else(|| cx.at(0..0, "no generator"))?;
    exprs::compile(cx, e.span(), e.get_ref(), known).map(Generator::Expr)
}

/// `random_walk = { start, step, min, max, reversion }`: min ≤ start ≤ max, step ≥ 0,
/// reversion in [0, 1].
fn walk(cx: &Ctx, w: &toml::Spanned<crate::raw_model::WalkTable>) -> Res<Generator> {
    let v = w.get_ref();
    let reversion = v.reversion.unwrap_or(0.0);
    let ok = [v.start, v.step, v.min, v.max]
        .iter()
        .all(|x| x.is_finite())
        && v.min < v.max
        && (v.min..=v.max).contains(&v.start)
        && v.step >= 0.0
        && (0.0..=1.0).contains(&reversion);
    if !ok {
        return Err(cx.at(
            w.span(),
            "random_walk needs min < max, start within them, a step of zero or more and a reversion from 0 to 1",
        ));
    }
    Ok(Generator::RandomWalk {
        start: v.start,
        step: v.step,
        min: v.min,
        max: v.max,
        reversion,
    })
}

/// A finite number, or an error naming `key`.
fn finite(cx: &Ctx, x: f64, span: std::ops::Range<usize>, key: &str) -> Res<f64> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(cx.at(span, format!("{key} is {x}; expected a finite number")))
    }
}
