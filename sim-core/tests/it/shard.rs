//! Sharded runs (`twin run --shard i/N`): a device reads the same values whichever
//! shard runs it, and the merged reports of four shards run at once against one
//! Mosquitto equal the report of the unsharded run.

use crate::{run_blocking, scenario};
use sim_core::error::MergeError;
use sim_core::report::Report;
use sim_core::sim::{Sim, SimIo};
use sim_core::test_support::Mosquitto;
use sim_core::wire::Telemetry;
use std::collections::BTreeMap;

/// Four heated rooms, a cold store with two probes, loose devices without a room,
/// random spikes on the DHT22s, a stuck and a drifting sensor, and timeline commands.
const FLEET: &str = r#"
[scenario]
name = "sharded"
seed = 11
duration = "20m"
tick = "1s"
speed = 100

[[environment]]
name = "room-{n}"
count = 4
initial_temperature = 17.0
heater_gain = 12.0

[[environment]]
name = "store"
initial_temperature = 4.0

[[devices]]
id = "dht-{n}"
count = 4
model = "dht22"
environment = "room-{n}"
publish_every = "10s"
faults = [{ kind = "spike", sensor = "temperature", magnitude = 8.0, per_hour = 3.0 }]

[[devices]]
id = "heater-{n}"
count = 4
model = "heater"
environment = "room-{n}"
publish_every = "30s"

[[devices]]
id = "thermostat-{n}"
count = 4
model = "thermostat"
environment = "room-{n}"
sensor = "dht-{n}"
heater = "heater-{n}"
publish_every = "30s"

[[devices]]
id = "probe-{n}"
count = 2
model = "ds18b20"
environment = "store"
publish_every = "10s"

[[devices]]
id = "led-{n}"
count = 3
model = "led"
publish_every = "30s"

[[devices]]
id = "meter"
model = "power_meter"
publish_every = "10s"

[[events]]
at = "5m"
target = "dht-2"
action = "fault"
fault = { kind = "stuck", sensor = "temperature", duration = "4m" }

[[events]]
at = "6m"
target = "probe-1"
action = "fault"
fault = { kind = "drift", sensor = "temperature", magnitude = 40.0, duration = "5m" }

[[events]]
at = "8m"
target = "thermostat-1"
action = "set"
set = { setpoint = 23.0 }

[[events]]
at = "9m"
target = "led-2"
action = "set"
set = { on = true }
"#;

/// Telemetry of `steps` steps, keyed by device id.
fn telemetry(s: &scenarios::Scenario, steps: u64) -> BTreeMap<String, Vec<Telemetry>> {
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 16);
    let mut sim = Sim::new(s, io);
    sim.step(steps);
    let mut by_id: BTreeMap<String, Vec<Telemetry>> = BTreeMap::new();
    while let Ok(mut t) = out.try_recv() {
        let id = s.devices[t.device as usize].id.clone();
        t.device = s.fleet_index(t.device as usize) as u32;
        by_id.entry(id).or_default().push(t);
    }
    by_id
}

#[test]
fn a_device_reads_the_same_whichever_shard_runs_it() {
    let whole = scenario(FLEET);
    let all = telemetry(&whole, 1200);
    // The store has no heater: its probes may run in different shards, each shard
    // simulating its own copy of the store.
    let of = scenarios::assignment(&whole, 4);
    let probe = |n: &str| of[whole.device_index(n).unwrap()];
    assert_ne!(probe("probe-1"), probe("probe-2"));
    assert_eq!(all.len(), whole.devices.len(), "every device published");
    let mut merged = BTreeMap::new();
    for i in 0..4 {
        let part = whole.sharded(i, 4);
        assert!(!part.devices.is_empty(), "shard {i} has devices");
        merged.extend(telemetry(&part, 1200));
    }
    assert_eq!(merged, all, "same messages, same values, device by device");
}

/// Alerts as comparable tuples, sorted (their order in one run is arrival order).
fn alerts(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r
        .alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {:?} {} {:?} {}",
                a.kind, a.device, a.sensor, a.start, a.end, a.raised
            )
        })
        .collect();
    v.sort();
    v
}

fn faults(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = r
        .faults
        .iter()
        .map(|f| {
            format!(
                "{} {} {:?} {} {}",
                f.kind, f.device, f.sensor, f.start, f.end
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn four_shards_at_once_on_mosquitto_merge_to_the_single_run() {
    if !Mosquitto::wanted() {
        return;
    }
    let _heavy = crate::heavy();
    let m = Mosquitto::start("").unwrap();
    let whole = scenario(FLEET);
    let single = run_blocking(&whole, Some(m.url()));
    // The four shards at once on the same broker, as the pods of an Indexed Job.
    let shards: Vec<Report> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let part = whole.sharded(i, 4);
                let url = m.url();
                scope.spawn(move || run_blocking(&part, Some(url)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, r) in shards.iter().enumerate() {
        assert_eq!(r.shard.as_deref(), Some(format!("{i}/4").as_str()));
        assert_eq!(
            r.messages.malformed, 0,
            "shard {i} counted no other shard's telemetry"
        );
    }
    let named: Vec<(String, Report)> = shards
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("shard-{i}.json"), r.clone()))
        .collect();
    let merged = sim_core::merge::merge(&named).unwrap();

    assert_eq!(merged.devices, single.devices);
    assert_eq!(
        merged.per_device, single.per_device,
        "readings, counts, windows"
    );
    let m_ = (
        merged.messages.sent,
        merged.messages.received,
        merged.messages.lost,
    );
    let s_ = (
        single.messages.sent,
        single.messages.received,
        single.messages.lost,
    );
    assert_eq!(m_, s_, "sent, received, lost");
    assert_eq!(merged.messages, single.messages);
    assert!(single.messages.sent > 1000, "{:?}", single.messages);
    assert_eq!(alerts(&merged), alerts(&single));
    assert_eq!(faults(&merged), faults(&single));
    assert!(single.faults.len() >= 3, "{:?}", single.faults);
    let (md, sd) = (
        merged.detection.clone().unwrap(),
        single.detection.clone().unwrap(),
    );
    assert_eq!(md.per_kind, sd.per_kind, "detection graded alike");
    assert_eq!(md.false_alerts.len(), sd.false_alerts.len());
    assert!(
        md.per_kind.values().any(|k| k.detected > 0),
        "{:?}",
        md.per_kind
    );
    assert_eq!(
        merged.fleet, single.fleet,
        "aggregates per group and environment"
    );
    assert_eq!(
        merged.sessions.commands_applied,
        single.sessions.commands_applied
    );
    let count = |r: &Report| r.latency_ms.map(|l| l.count);
    assert_eq!(count(&merged), Some(single.messages.received));
    assert_eq!(merged.merged, 4);
    assert!(merged.shard.is_none());

    refusals(&named);
}

/// What does not merge is refused with the reason.
fn refusals(named: &[(String, Report)]) {
    let twice = [
        named[0].clone(),
        named[0].clone(),
        named[2].clone(),
        named[3].clone(),
    ];
    assert!(matches!(
        sim_core::merge::merge(&twice),
        Err(MergeError::Duplicate { .. })
    ));
    let short = &named[..3];
    let e = sim_core::merge::merge(short).unwrap_err();
    assert_eq!(
        e.to_string(),
        "shard 3/4 of 4 missing: give the reports of all 4 shards"
    );
    let mut other_seed = named.to_vec();
    other_seed[1].1.seed += 1;
    assert!(matches!(
        sim_core::merge::merge(&other_seed),
        Err(MergeError::Differ { what: "seed", .. })
    ));
}
