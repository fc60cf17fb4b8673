//! `scenarios::parse` on any UTF-8 text: a scenario file either loads or gives one located
//! error, never a panic. A scenario that loads is then taken through what `twin run` does
//! first with it, with no network: topics filled, analytics and ingest state set up, the
//! world built and stepped.

#![no_main]

use libfuzzer_sys::fuzz_target;
use scenarios::fill_template;
use sim_core::analytics::fleet::{FleetAnalytics, FleetConfig};
use sim_core::ingest::IngestState;
use sim_core::sim::{Sim, SimIo};

/// Largest fleet whose world is built per input. Parsing and expansion cover any size; a
/// world of thousands of entities per input would only slow the fuzzer down.
const MAX_BUILT_DEVICES: usize = 64;

/// Steps run on a built world: enough to publish, apply the timeline's first events and
/// move the physics once with the parsed parameters.
const STEPS: u64 = 3;

fuzz_target!(|src: &str| {
    let scenario = match scenarios::parse(src, "fuzz.toml") {
        Ok(s) => s,
        Err(e) => {
            // The message a user reads: file:line:col, the source line and a caret.
            let _ = e.to_string();
            let _ = e.location();
            return;
        }
    };
    let _ = scenario.expected_msgs_per_sim_second();
    if scenario.devices.len() > MAX_BUILT_DEVICES {
        return;
    }
    let mqtt = &scenario.mqtt;
    for d in &scenario.devices {
        for template in [
            &mqtt.telemetry_topic,
            &mqtt.command_topic,
            &mqtt.status_topic,
            &mqtt.client_id,
        ] {
            let _ = fill_template(template, &scenario.fleet, &d.id);
        }
        let _ = scenario.device_index(&d.id);
    }
    let ids: Vec<String> = scenario.devices.iter().map(|d| d.id.clone()).collect();
    let models: Vec<_> = scenario.devices.iter().map(|d| d.model.kind()).collect();
    let periods: Vec<f64> = scenario.devices.iter().map(|d| d.publish_every).collect();
    let mut analytics = FleetAnalytics::new(
        FleetConfig::from_spec(&scenario.analytics),
        ids.clone(),
        &models,
        &periods,
    );
    analytics.apply_rules(&scenario.rules);
    let _ingest = IngestState::new(&ids, analytics, scenario.start_epoch);

    let (io, _telemetry_rx, _cmd_tx, _session_rx) = SimIo::detached(1024);
    let mut sim = Sim::new(&scenario, io);
    sim.step(sim.steps_left().min(STEPS));
});
