//! `[[environment]]`: rooms and zones, each table expanded `count` times with `{n}` in its
//! name; every copy shares the table's thermal values.

use super::check::{
    Ctx, MAX_DEVICES, Res, count_of, expand_n, non_negative_f, placeholders, positive,
};
use crate::raw::EnvironmentTable;
use crate::spec::EnvironmentSpec;
use std::collections::HashSet;
use std::ops::RangeInclusive;
use toml::Spanned;

/// Most environments one scenario may hold, over all `[[environment]]` tables: as many as
/// devices, since a room without a device does nothing.
const MAX_ENVIRONMENTS: usize = MAX_DEVICES;

/// Every environment, in file order, after `count` expansion.
pub(super) fn expand(cx: &Ctx, tables: &[EnvironmentTable]) -> Res<Vec<EnvironmentSpec>> {
    let mut out: Vec<EnvironmentSpec> = Vec::new();
    // Names so far; scanning `out` instead makes `count = 100000` take minutes.
    let mut names: HashSet<String> = HashSet::new();
    for t in tables {
        let count = count_of(cx, t.count.as_ref(), &t.name, "name")?;
        let values = values(cx, t)?;
        placeholders(cx, &t.name, &["n"])?;
        for n in 1..=count {
            let name = expand_n(t.name.get_ref(), n);
            if !names.insert(name.clone()) {
                return Err(cx.at(
                    t.name.span(),
                    format!("environment \"{name}\" is defined twice; expected unique names"),
                ));
            }
            if out.len() >= MAX_ENVIRONMENTS {
                return Err(cx.at(
                    t.count.as_ref().map_or(t.name.span(), Spanned::span),
                    format!(
                        "the scenario has more than {MAX_ENVIRONMENTS} environments; expected fewer"
                    ),
                ));
            }
            out.push(EnvironmentSpec {
                name,
                ..values.clone()
            });
        }
    }
    Ok(out)
}

/// The table's values over the defaults, checked in the order of the keys' documentation;
/// the name is left empty for [`expand`] to fill.
fn values(cx: &Ctx, t: &EnvironmentTable) -> Res<EnvironmentSpec> {
    let outdoor_mean = finite(cx, &t.outdoor_mean, "outdoor_mean", 5.0)?;
    let outdoor_amplitude = finite(cx, &t.outdoor_amplitude, "outdoor_amplitude", 4.0)?;
    let initial_temperature = finite(
        cx,
        &t.initial_temperature,
        "initial_temperature",
        outdoor_mean + 12.0,
    )?;
    let humidity_amplitude = finite(cx, &t.humidity_amplitude, "humidity_amplitude", 5.0)?;
    let time_constant = match &t.time_constant {
        Some(tc) => positive(cx, tc, "time_constant")?,
        None => 3.0 * 3600.0,
    };
    let heater_gain = match &t.heater_gain {
        Some(g) => non_negative_f(cx, g, "heater_gain")?,
        None => 6.0,
    };
    let humidity = within(cx, &t.humidity, 0.0..=100.0, 45.0, |v| {
        format!("humidity is {v}; expected 0 to 100 (%RH)")
    })?;
    let outdoor_peak_hour = within(cx, &t.outdoor_peak_hour, 0.0..=24.0, 15.0, |v| {
        format!("outdoor_peak_hour is {v}; expected an hour from 0 to 24")
    })?;
    let pressure = within(cx, &t.pressure, 300.0..=1100.0, 1013.25, |v| {
        format!("pressure is {v} hPa; expected 300 to 1100 (the BME280's range)")
    })?;
    let occupancy = match &t.occupancy {
        Some(o) => non_negative_f(cx, o, "occupancy")?,
        None => 1.0,
    };
    Ok(EnvironmentSpec {
        name: String::new(),
        outdoor_mean,
        outdoor_amplitude,
        outdoor_peak_hour,
        initial_temperature,
        time_constant,
        heater_gain,
        humidity,
        humidity_amplitude,
        pressure,
        occupancy,
    })
}

/// A finite number, or `default`.
fn finite(cx: &Ctx, v: &Option<Spanned<f64>>, key: &str, default: f64) -> Res<f64> {
    match v {
        Some(x) if !x.get_ref().is_finite() => Err(cx.at(
            x.span(),
            format!("{key} is {}; expected a finite number", x.get_ref()),
        )),
        Some(x) => Ok(*x.get_ref()),
        None => Ok(default),
    }
}

/// A number inside `range`, or `default`; `message` says what was expected.
fn within(
    cx: &Ctx,
    v: &Option<Spanned<f64>>,
    range: RangeInclusive<f64>,
    default: f64,
    message: fn(f64) -> String,
) -> Res<f64> {
    match v {
        Some(x) if !range.contains(x.get_ref()) => Err(cx.at(x.span(), message(*x.get_ref()))),
        Some(x) => Ok(*x.get_ref()),
        None => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    /// A scenario of one DHT22 in room `env`, after `tables`.
    fn one_sensor_in(tables: &str, env: &str) -> String {
        format!(
            "[scenario]\nname = \"x\"\nduration = \"1m\"\n\n{tables}\n[[devices]]\nid = \"d\"\nmodel = \"dht22\"\nenvironment = \"{env}\"\n"
        )
    }

    // Found with a hand-written input to the scenario_parse fuzz target: each new
    // environment name was compared with every earlier one, so `count = 50000` took 5 s
    // and `count = 2000000` hours.
    #[test]
    fn many_environments_expand_in_linear_time_and_names_stay_unique() {
        let src = one_sensor_in(
            "[[environment]]\nname = \"room-{n}\"\ncount = 200000\n",
            "room-200000",
        );
        let s = crate::parse(&src, "rooms.toml").unwrap();
        assert_eq!(s.environments.len(), 200_000);
        assert_eq!(s.environments[199_999].name, "room-200000");
        assert_eq!(s.devices[0].environment, Some(199_999));

        let twice = one_sensor_in(
            "[[environment]]\nname = \"room-{n}\"\ncount = 3\n\n[[environment]]\nname = \"room-2\"\n",
            "room-1",
        );
        let e = crate::parse(&twice, "twice.toml").unwrap_err().to_string();
        assert!(e.contains("\"room-2\" is defined twice"), "{e}");
    }

    #[test]
    fn environments_beyond_the_limit_are_refused() {
        let src = one_sensor_in(
            "[[environment]]\nname = \"a-{n}\"\ncount = 2000000\n\n[[environment]]\nname = \"b\"\n",
            "a-1",
        );
        let e = crate::parse(&src, "rooms.toml").unwrap_err();
        assert!(
            e.to_string().contains("more than 2000000 environments"),
            "{e}"
        );
        assert_eq!(e.location(), Some((10, 8)), "{e}");
    }
}
