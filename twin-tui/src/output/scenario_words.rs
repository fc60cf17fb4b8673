//! A scenario's parts in the words its file uses, for `twin check`: events, faults,
//! rules, rates with a unit that fits, device lists, and runs of equal lines collapsed.

use scenarios::{Dur, EventAction, FaultSpec, RuleSpec, Scenario, SetValue};

/// A rate in messages: per second when at least one a second, else per minute, else
/// per hour ("0.5/min" rather than "0.0 per second").
pub fn rate(per_s: f64) -> String {
    let (n, unit) = per(per_s);
    let short = match unit {
        "second" => "s",
        "minute" => "min",
        _ => "h",
    };
    format!("{n}/{short}")
}

/// A rate as "1.07 msg per sim second", "52 msg per sim minute".
pub fn sim_rate(per_s: f64) -> String {
    let (n, unit) = per(per_s);
    format!("{n} msg per sim {unit}")
}

/// A rate's number and the unit of time that fits it (second, minute or hour).
fn per(per_s: f64) -> (String, &'static str) {
    let (n, unit) = if per_s >= 1.0 || per_s == 0.0 {
        (per_s, "second")
    } else if per_s * 60.0 >= 1.0 {
        (per_s * 60.0, "minute")
    } else {
        (per_s * 3600.0, "hour")
    };
    (number(n), unit)
}

/// A number with at most two decimals and no trailing zeros ("2", "0.5", "1.25").
pub fn number(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// What an event does, as the scenario says it: `set on=true`, `disconnect`,
/// `rate every 30s`, `fault spike on temperature, magnitude 5`.
pub fn action(a: &EventAction) -> String {
    match a {
        EventAction::Set(pairs) => {
            let kv: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", set_value(v)))
                .collect();
            format!("set {}", kv.join(", "))
        }
        EventAction::Disconnect => "disconnect".into(),
        EventAction::Reconnect => "reconnect".into(),
        EventAction::Rate(every) => format!("rate every {}", Dur(*every)),
        EventAction::Fault(f) => format!("fault {}", fault(f)),
    }
}

fn set_value(v: &SetValue) -> String {
    match v {
        SetValue::Bool(b) => b.to_string(),
        SetValue::Number(x) => number(*x),
        SetValue::Text(t) => format!("\"{t}\""),
    }
}

/// A fault: its kind, the reading, its size and length, and for a random one how often
/// it strikes ("spike on temperature, magnitude 5, 0.5 per hour").
pub fn fault(f: &FaultSpec) -> String {
    let mut parts = vec![f.kind.name().to_string()];
    if let Some(s) = &f.sensor {
        parts[0] += &format!(" on {s}");
    }
    if f.magnitude != 0.0 {
        parts.push(format!("magnitude {}", number(f.magnitude)));
    }
    if f.duration > 0.0 {
        parts.push(format!("for {}", Dur(f.duration)));
    }
    if f.per_hour > 0.0 {
        parts.push(format!("{} per hour", number(f.per_hour)));
    }
    if f.on_gateway {
        parts[0] += " of the device's gateway";
    }
    parts.join(", ")
}

/// The sessions in words: "1,000, one per device", or "12: 10 gateways holding 5,000
/// devices, and 2 devices with their own".
pub fn sessions(s: &Scenario) -> String {
    let gateways = s.gateways();
    let own = s.devices.iter().filter(|d| d.gateway.is_none()).count();
    let n = s.session_count();
    if gateways.is_empty() {
        return format!("{n}, one per device");
    }
    let behind: usize = gateways.iter().map(|g| g.devices.len()).sum();
    let mut out = format!(
        "{n}: {} holding {}",
        plural(gateways.len(), "gateway"),
        plural(behind, "device")
    );
    if own > 0 {
        out += &format!(
            ", and {} with a session of {}",
            plural(own, "device"),
            if own == 1 { "its own" } else { "their own" }
        );
    }
    out
}

/// "1 gateway", "3 gateways".
fn plural(n: usize, word: &str) -> String {
    super::summary::count(n as u64, word, &format!("{word}s"))
}

/// A rule: its reading, its limits and how many readings past them raise it.
pub fn rule(r: &RuleSpec) -> String {
    let mut parts = vec![r.sensor.clone()];
    if let Some(a) = r.above {
        parts.push(format!("above {}", number(a)));
    }
    if let Some(b) = r.below {
        parts.push(format!("below {}", number(b)));
    }
    if let Some(m) = r.max_rate_per_s {
        parts.push(format!("changing faster than {}/s", number(m)));
    }
    let mut out = parts.join(" ");
    out += &format!(", {} of the last {} readings", r.n, r.m);
    if r.hysteresis > 0.0 {
        out += &format!(", clears {} inside", number(r.hysteresis));
    }
    out
}

/// Device ids by fleet index: all of up to three, else the first three and how many more.
pub fn devices(s: &Scenario, idx: &[usize]) -> String {
    let ids: Vec<&str> = idx
        .iter()
        .take(3)
        .map(|&d| s.devices[d].id.as_str())
        .collect();
    let more = idx.len().saturating_sub(3);
    let noun = if idx.len() == 1 { "device" } else { "devices" };
    let mut out = format!("{} {noun}: {}", idx.len(), ids.join(", "));
    if more > 0 {
        out += &format!(" and {more} more");
    }
    out
}

/// Lines (`name`, `text`) with runs of equal `text` collapsed into one line naming the
/// first and the last of the run and how many it holds.
pub fn collapsed(lines: &[(String, String)], width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i + 1;
        while j < lines.len() && lines[j].1 == lines[i].1 {
            j += 1;
        }
        let name = if j - i > 1 {
            format!("{} .. {} ({})", lines[i].0, lines[j - 1].0, j - i)
        } else {
            lines[i].0.clone()
        };
        out.push(format!("{name:<width$} {}", lines[i].1));
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_take_the_unit_that_fits() {
        assert_eq!(rate(2.0), "2/s");
        assert_eq!(rate(1.0 / 30.0), "2/min");
        assert_eq!(rate(1.0 / 600.0), "6/h");
        assert_eq!(rate(0.0), "0/s");
        assert_eq!(sim_rate(1.0 / 30.0), "2 msg per sim minute");
    }

    #[test]
    fn equal_lines_collapse_into_one() {
        let l = |n: &str, t: &str| (n.to_string(), t.to_string());
        let lines = [l("a", "x"), l("b", "x"), l("c", "x"), l("d", "y")];
        assert_eq!(
            collapsed(&lines, 4),
            vec!["a .. c (3) x".to_string(), "d    y".to_string()]
        );
    }
}
