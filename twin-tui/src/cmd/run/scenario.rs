//! What a run runs: the scenario with the command line's overrides, and the run options
//! the flags give.

use crate::args::run::RunArgs;
use crate::args::values::to_duration;
use crate::common::exit::bad_input;
use crate::output::scenario_words as words;
use scenarios::{Dur, EventAction, Scenario};
use sim_core::run::{Flow, RunOptions};

/// Load a scenario and apply the command-line overrides; with what a shorter
/// `--duration` cut away from its timeline, each said on stderr.
pub fn load_with_overrides(args: &RunArgs) -> anyhow::Result<(Scenario, Vec<String>)> {
    let path = args
        .scenario
        .as_ref()
        .ok_or_else(|| bad_input("a scenario file is required"))?;
    let mut s = scenarios::load(path)?;
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    let mut cut = Vec::new();
    if let Some(d) = args.duration {
        cut = cut_away(&s, d);
        for c in &cut {
            eprintln!("warning: {c}");
        }
        s.duration = d.secs();
        s.events.retain(|e| e.at <= s.duration);
    }
    if let Some(sp) = args.speed {
        s.speed = sp;
    }
    if let Some(b) = &args.broker {
        scenarios::BrokerUrl::parse(b).map_err(bad_input)?;
    }
    if let Some(sh) = args.shard {
        s = s.sharded(sh.index, sh.count);
    }
    Ok((s, cut))
}

/// What a run of `d` leaves out of the scenario's timeline: each event after it, and
/// each injected fault whose window it ends early.
fn cut_away(s: &Scenario, d: scenarios::Dur) -> Vec<String> {
    let end = d.secs();
    let mut out = Vec::new();
    for e in &s.events {
        let what = format!(
            "{} on {}",
            words::action(&e.action),
            words::devices(s, &e.devices)
        );
        if e.at > end {
            out.push(format!(
                "--duration {d} leaves out the event at {}: {what}",
                Dur(e.at)
            ));
        } else if let EventAction::Fault(f) = &e.action
            && f.duration > 0.0
            && e.at + f.duration > end
        {
            out.push(format!(
                "--duration {d} ends the fault at {} early, after {} of {}: {what}",
                Dur(e.at),
                Dur(end - e.at),
                Dur(f.duration)
            ));
        }
    }
    out
}

/// The broker, security and timeouts of the flags (the password file read), and what
/// the scenario's conventions announce.
pub fn run_options(args: &RunArgs, scenario: &Scenario) -> anyhow::Result<RunOptions> {
    Ok(RunOptions {
        announce: hw_bridge::adapter::homeassistant::announce::announcements(scenario),
        broker_url: args.broker.clone(),
        security: args.security.security()?,
        drain_timeout: to_duration(args.drain),
        connect_timeout: to_duration(args.connect_timeout),
        wait_for_broker: to_duration(args.wait_for_broker),
        keep_retained: args.keep_retained,
        flow: if args.drop_when_behind {
            Flow::Drop
        } else {
            Flow::Hold {
                window: Some(args.window),
            }
        },
        ..RunOptions::default()
    })
}
