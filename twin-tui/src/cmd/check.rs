//! `twin check`: validate a scenario and print the fleet it would build.

use crate::args::run::CheckArgs;
use crate::output::scenario_words as words;
use scenarios::{Dur, Scenario, Speed};
use std::fmt::Write as _;

/// Run `twin check`: load and print; errors carry the file position.
pub fn main(args: &CheckArgs) -> anyhow::Result<()> {
    let s = scenarios::load(&args.scenario)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary_json(&s))?);
    } else {
        print!("{}", summary_text(&s));
    }
    Ok(())
}

/// The fleet as text.
pub fn summary_text(s: &Scenario) -> String {
    let mut o = String::new();
    write_settings(&mut o, s);
    write_environments(&mut o, s);
    write_groups(&mut o, s);
    write_faults(&mut o, s);
    write_rules(&mut o, s);
    write_expected(&mut o, s);
    write_events(&mut o, s);
    o
}

/// The scenario's line, its broker and its MQTT settings.
fn write_settings(o: &mut String, s: &Scenario) {
    let speed = match s.speed {
        Speed::Max => "max".to_string(),
        Speed::Factor(f) => format!("{f}x"),
    };
    let _ = writeln!(
        o,
        "scenario {} (fleet {}, seed {}): {} simulated, tick {}, speed {}",
        s.name,
        s.fleet,
        s.seed,
        Dur(s.duration),
        Dur(s.tick),
        speed
    );
    let _ = writeln!(
        o,
        "broker   {}",
        s.broker_url.as_deref().map_or_else(
            || "embedded (started in-process on a free port)".to_string(),
            scenarios::BrokerUrl::redact
        )
    );
    let _ = writeln!(
        o,
        "mqtt     qos {}, {} payloads, telemetry {}, commands {}, status {}",
        s.mqtt.qos,
        s.mqtt.encoding.name(),
        s.mqtt.telemetry_topic,
        s.mqtt.command_topic,
        s.mqtt.status_topic
    );
}

/// One line an environment; a run of environments alike but for their names, one line.
fn write_environments(o: &mut String, s: &Scenario) {
    let _ = writeln!(o, "environments {}", s.environments.len());
    let lines: Vec<(String, String)> = s
        .environments
        .iter()
        .map(|e| {
            let text = format!(
                "start {:.1} °C, outdoor {:.1}±{:.1} °C, time constant {}",
                e.initial_temperature,
                e.outdoor_mean,
                e.outdoor_amplitude,
                Dur(e.time_constant)
            );
            (e.name.clone(), text)
        })
        .collect();
    for line in words::collapsed(&lines, 16) {
        let _ = writeln!(o, "  {line}");
    }
}

/// The device groups as a table.
fn write_groups(o: &mut String, s: &Scenario) {
    let _ = writeln!(
        o,
        "devices {} in {}",
        s.devices.len(),
        crate::output::summary::count(s.groups.len() as u64, "group", "groups")
    );
    let _ = writeln!(
        o,
        "  {:<20} {:<14} {:>7} {:>10} {:>9}  readings",
        "id", "model", "count", "every", "messages"
    );
    for (gi, g) in s.groups.iter().enumerate() {
        let _ = writeln!(
            o,
            "  {:<20} {:<14} {:>7} {:>10} {:>9}  {}",
            group_ids(s, gi),
            g.model.name(),
            g.count,
            Dur(g.publish_every).to_string(),
            words::rate(g.count as f64 / g.publish_every),
            g.model.readings().join(", ")
        );
    }
    let _ = writeln!(o, "sessions {}", words::sessions(s));
}

/// A group's ids as a reader wants them: the template when it is `{n}` alone
/// (`dht-{n}`), else the first and last ids (`dht-f1-r01 … dht-f5-r20`).
fn group_ids(s: &Scenario, gi: usize) -> String {
    let g = &s.groups[gi];
    let plain = g.id_template.replace("{n}", "");
    if !plain.contains('{') {
        return g.id_template.clone();
    }
    let mut ids = s
        .devices
        .iter()
        .filter(|d| d.group == gi)
        .map(|d| d.id.as_str());
    let first = ids.next().unwrap_or_default();
    match ids.next_back() {
        Some(last) => format!("{first} … {last}"),
        None => first.to_string(),
    }
}

/// The faults each group's devices may suffer at random, a line a fault.
fn write_faults(o: &mut String, s: &Scenario) {
    let per_group: Vec<(&str, &[scenarios::FaultSpec])> = s
        .groups
        .iter()
        .enumerate()
        .filter_map(|(gi, g)| {
            let d = s.devices.iter().find(|d| d.group == gi)?;
            (!d.faults.is_empty()).then_some((g.id_template.as_str(), d.faults.as_slice()))
        })
        .collect();
    let n: usize = per_group.iter().map(|(_, f)| f.len()).sum();
    let _ = writeln!(o, "faults {n}");
    for (group, faults) in per_group {
        for f in faults {
            let _ = writeln!(o, "  {group:<20} {}", words::fault(f));
        }
    }
}

/// One line a rule.
fn write_rules(o: &mut String, s: &Scenario) {
    let _ = writeln!(o, "rules {}", s.rules.len());
    for r in &s.rules {
        let _ = writeln!(
            o,
            "  {} on {}",
            words::rule(r),
            words::devices(s, &r.devices)
        );
    }
}

/// The message rate to expect, and at the scenario's speed the wall time.
fn write_expected(o: &mut String, s: &Scenario) {
    let per_sim = s.expected_msgs_per_sim_second();
    let _ = write!(o, "expected {}", words::sim_rate(per_sim));
    match s.speed {
        Speed::Factor(f) => {
            let _ = writeln!(
                o,
                ", {} at {f}x, about {:.0} messages, {} of wall time",
                words::rate(per_sim * f),
                per_sim * s.duration,
                Dur(s.duration / f)
            );
        }
        Speed::Max => {
            let _ = writeln!(
                o,
                ", about {:.0} messages (as fast as possible)",
                per_sim * s.duration
            );
        }
    }
}

/// One line a scheduled event, in the scenario's words.
fn write_events(o: &mut String, s: &Scenario) {
    let _ = writeln!(o, "events {}", s.events.len());
    for e in &s.events {
        let _ = writeln!(
            o,
            "  at {:<10} {} on {}",
            Dur(e.at).to_string(),
            words::action(&e.action),
            words::devices(s, &e.devices)
        );
    }
}

/// The fleet as JSON.
pub fn summary_json(s: &Scenario) -> serde_json::Value {
    serde_json::json!({
        "scenario": s.name,
        "fleet": s.fleet,
        "seed": s.seed,
        "duration_s": s.duration,
        "tick_s": s.tick,
        "speed": match s.speed { Speed::Max => serde_json::json!("max"), Speed::Factor(f) => serde_json::json!(f) },
        "broker": s.broker_url.as_deref().map(scenarios::BrokerUrl::redact),
        "qos": s.mqtt.qos,
        "encoding": s.mqtt.encoding.name(),
        "topics": {
            "telemetry": s.mqtt.telemetry_topic,
            "command": s.mqtt.command_topic,
            "status": s.mqtt.status_topic,
        },
        "environments": s.environments.iter().map(|e| &e.name).collect::<Vec<_>>(),
        "groups": s.groups.iter().map(|g| serde_json::json!({
            "id": g.id_template,
            "model": g.model.name(),
            "count": g.count,
            "publish_every_s": g.publish_every,
            "msgs_per_sim_second": g.count as f64 / g.publish_every,
            "readings": g.model.readings(),
        })).collect::<Vec<_>>(),
        "devices": s.devices.len(),
        "gateways": s.gateways().len(),
        "sessions": s.session_count(),
        "expected_msgs_per_sim_second": s.expected_msgs_per_sim_second(),
        "events": s.events.len(),
    })
}
