//! `[[rules]]`: thresholds (with hysteresis and N-of-M debounce) and rate limits on one
//! reading of the devices that publish it.

use super::check::{Ctx, References, Res, non_negative_f, positive_f};
use super::fleet::Fleet;
use super::targets::targets_of;
use crate::raw::RuleTable;
use crate::spec::RuleSpec;
use toml::Spanned;

/// Every rule; each one's devices count against the reference limit.
pub(super) fn expand(
    cx: &Ctx,
    tables: &[RuleTable],
    fleet: &Fleet,
    references: &mut References,
) -> Res<Vec<RuleSpec>> {
    let mut rules = Vec::new();
    for r in tables {
        let rule = rule_spec(cx, r, fleet)?;
        let span = r.target.as_ref().map_or(r.sensor.span(), Spanned::span);
        references.add(cx, span, rule.devices.len(), "this rule")?;
        rules.push(rule);
    }
    Ok(rules)
}

fn rule_spec(cx: &Ctx, r: &RuleTable, fleet: &Fleet) -> Res<RuleSpec> {
    let sensor = r.sensor.get_ref().clone();
    let targets = publishers(cx, r, &sensor, fleet)?;
    let above = finite(cx, &r.above, "above")?;
    let below = finite(cx, &r.below, "below")?;
    let max_rate_per_s = match &r.max_rate_per_s {
        Some(v) => Some(positive_f(cx, v, "max_rate_per_s")?),
        None => None,
    };
    if above.is_none() && below.is_none() && max_rate_per_s.is_none() {
        return Err(cx.at(
            r.sensor.span(),
            "a rule needs above, below or max_rate_per_s",
        ));
    }
    let hysteresis = match &r.hysteresis {
        Some(h) => non_negative_f(cx, h, "hysteresis")?,
        None => 0.0,
    };
    let (n, m) = n_of_m(cx, r)?;
    Ok(RuleSpec {
        devices: targets,
        sensor,
        above,
        below,
        hysteresis,
        n,
        m,
        max_rate_per_s,
    })
}

/// The targeted devices (all, without `target`) that publish `sensor`; at least one.
fn publishers(cx: &Ctx, r: &RuleTable, sensor: &str, fleet: &Fleet) -> Res<Vec<usize>> {
    let named = match &r.target {
        Some(t) => targets_of(t.get_ref(), fleet),
        None => (0..fleet.devices.len()).collect(),
    };
    let targets: Vec<usize> = named
        .into_iter()
        .filter(|&i| {
            fleet.devices[i]
                .model
                .kind()
                .analysed_readings()
                .contains(&sensor)
        })
        .collect();
    if targets.is_empty() {
        return Err(cx.at(
            r.target.as_ref().map_or(r.sensor.span(), Spanned::span),
            format!("rule on \"{sensor}\" matches no device that publishes it; expected a reading such as temperature, humidity, pressure, moisture or voltage"),
        ));
    }
    Ok(targets)
}

fn finite(cx: &Ctx, v: &Option<Spanned<f64>>, key: &str) -> Res<Option<f64>> {
    match v {
        Some(x) if !x.get_ref().is_finite() => {
            Err(cx.at(x.span(), format!("{key} must be a finite number")))
        }
        Some(x) => Ok(Some(*x.get_ref())),
        None => Ok(None),
    }
}

/// The debounce: `n` readings beyond the limit among the last `m` (both 1 to 64, `m` at
/// least `n`; `m` defaults to `n`).
fn n_of_m(cx: &Ctx, r: &RuleTable) -> Res<(usize, usize)> {
    let int = |v: &Option<Spanned<i64>>, key: &str| -> Res<usize> {
        match v {
            Some(x) if !(1..=64).contains(x.get_ref()) => Err(cx.at(
                x.span(),
                format!("{key} is {}; expected 1 to 64", x.get_ref()),
            )),
            Some(x) => Ok(*x.get_ref() as usize),
            None => Ok(1),
        }
    };
    let n = int(&r.n, "n")?;
    let m = int(&r.m, "m")?.max(n);
    if let Some(mm) = &r.m
        && (*mm.get_ref() as usize) < n
    {
        return Err(cx.at(
            mm.span(),
            format!("m is {}; expected at least n ({n})", mm.get_ref()),
        ));
    }
    Ok((n, m))
}
