//! Fault injection and its grading.

use crate::{run_blocking, scenario};
use sim_core::sim::{Sim, SimIo};
use sim_core::wire::{Telemetry, Value};
use std::path::Path;

const ONE_NODE: &str = r#"
[scenario]
name = "f"
seed = 3
duration = "1h"
tick = "1s"
speed = "max"

[[environment]]
name = "room"

[[devices]]
id = "n-{n}"
count = 2
model = "bme280"
environment = "room"
publish_every = "10s"
jitter = "0s"

[[events]]
at = "100s"
target = "n-1"
action = "fault"
fault = { kind = "stuck", sensor = "temperature", duration = "100s" }

[[events]]
at = "300s"
target = "n-1"
action = "fault"
fault = { kind = "drift", sensor = "pressure", magnitude = 36.0, duration = "100s" }

[[events]]
at = "500s"
target = "n-1"
action = "fault"
fault = { kind = "spike", sensor = "humidity", magnitude = 20.0 }

[[events]]
at = "600s"
target = "n-1"
action = "fault"
fault = { kind = "dropout", duration = "60s" }

[[events]]
at = "800s"
target = "n-1"
action = "fault"
fault = { kind = "duplicate" }

[[events]]
at = "900s"
target = "n-1"
action = "fault"
fault = { kind = "clock_skew", magnitude = 300.0, duration = "30s" }
"#;

fn run(src: &str, steps: u64) -> (Vec<Telemetry>, sim_core::sim::SimStats) {
    let s = scenario(src);
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 16);
    let mut sim = Sim::new(&s, io);
    sim.step(steps);
    let mut v = Vec::new();
    while let Ok(t) = out.try_recv() {
        v.push(t);
    }
    (v, sim.stats())
}

fn reading(t: &Telemetry, name: &str) -> f64 {
    match t.readings.iter().find(|(k, _)| *k == name) {
        Some((_, Value::Float(f))) => *f,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn each_fault_alters_what_it_should_and_is_recorded() {
    let (msgs, stats) = run(ONE_NODE, 1000);
    let n1: Vec<&Telemetry> = msgs.iter().filter(|m| m.device == 0).collect();
    let at = |t: f64| *n1.iter().find(|m| (m.sim_time - t).abs() < 1e-9).unwrap();
    // Stuck: 100..200 s all repeat the value read at 100 s.
    let held = reading(at(100.0), "temperature");
    for t in (110..200).step_by(10) {
        assert_eq!(reading(at(f64::from(t)), "temperature"), held);
    }
    // Drift: 36 hPa/h = 0.01 hPa/s; 90 s in, pressure is ~0.9 hPa above the truth.
    let m = at(390.0);
    let truth = m.expected.iter().find(|(k, _)| *k == "pressure").unwrap().1;
    let off = reading(m, "pressure") - truth;
    assert!(
        (0.9 - 1.0..=0.9 + 1.0).contains(&off) && off > 0.5,
        "drift offset {off}"
    );
    // Spike: one humidity reading 20 %RH off, the next one normal again.
    let spike = reading(at(500.0), "humidity") - reading(at(490.0), "humidity");
    assert!(spike.abs() > 15.0, "{spike}");
    assert!((reading(at(510.0), "humidity") - reading(at(490.0), "humidity")).abs() < 3.0);
    // Dropout: nothing from 600 s to 650 s, and seq does not skip.
    assert!(n1.iter().all(|m| !(600.0..660.0).contains(&m.sim_time)));
    let seqs: Vec<u64> = n1.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    // Duplicate and skew are marked for the dispatcher.
    assert!(at(800.0).duplicate);
    assert_eq!(at(910.0).skew, 300.0);
    assert_eq!(at(950.0).skew, 0.0);
    // The ground truth has each one, with its times.
    let kinds: Vec<(&str, f64, f64)> = stats
        .faults
        .iter()
        .map(|f| (f.kind.as_str(), f.start, f.end))
        .collect();
    assert_eq!(
        kinds,
        [
            ("stuck", 100.0, 200.0),
            ("drift", 300.0, 400.0),
            ("spike", 500.0, 500.0),
            ("dropout", 600.0, 660.0),
            ("duplicate", 800.0, 800.0),
            ("clock_skew", 900.0, 930.0)
        ]
    );
}

#[test]
fn faults_leave_the_other_devices_and_clean_readings_untouched() {
    let (with, _) = run(ONE_NODE, 1000);
    let without_src = ONE_NODE.split("[[events]]").next().unwrap();
    let (without, stats) = run(without_src, 1000);
    assert!(stats.faults.is_empty());
    let n2 = |v: &[Telemetry]| {
        v.iter()
            .filter(|m| m.device == 1)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(n2(&with), n2(&without));
    // Before the first fault, n-1 is identical too.
    let early = |v: &[Telemetry]| {
        v.iter()
            .filter(|m| m.device == 0 && m.sim_time < 100.0)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(early(&with), early(&without));
}

#[test]
fn the_faults_example_is_graded_and_detects_what_it_injects() {
    let _heavy = crate::heavy();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/examples/faults.toml");
    let s = scenarios::load(&path).unwrap();
    let r = run_blocking(&s, None);
    let d = r.detection.as_ref().expect("faults were injected");
    for f in sim_core::analytics::score::reveals("spike") {
        assert_eq!(*f, "spike");
    }
    for kind in scenarios::FaultKind::ALL {
        let k = &d.per_kind[kind.name()];
        assert!(
            k.injected >= 2,
            "{} injected {} times",
            kind.name(),
            k.injected
        );
    }
    for kind in ["spike", "stuck", "dropout", "offline"] {
        let k = &d.per_kind[kind];
        assert!(k.recall.unwrap() >= 0.95, "{kind}: {k:?}");
        assert!(k.precision.unwrap() >= 0.9, "{kind}: {k:?}");
    }
    let drift = &d.per_kind["drift"];
    assert!(
        drift.detected >= 1 && drift.mean_delay_s.is_some(),
        "{drift:?}"
    );
    let control: Vec<_> = r
        .alerts
        .iter()
        .filter(|a| a.device.starts_with("ctl-"))
        .collect();
    assert!(
        control.is_empty(),
        "alerts on the control group: {control:?}"
    );
    assert_eq!(r.messages.lost, 0);
}

/// Four DHT22s with a spike fault; the timeline takes dht-1 off line from 30m to 50m.
const PLANNED_OUTAGE: &str = r#"
[scenario]
name = "planned"
seed = 7
duration = "2h"
speed = "max"

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 4
model = "dht22"
environment = "room"
publish_every = "30s"
faults = [{ kind = "spike", per_hour = 0.5 }]

[[events]]
at = "30m"
target = "dht-1"
action = "disconnect"

[[events]]
at = "50m"
target = "dht-1"
action = "reconnect"
"#;

#[test]
fn a_planned_outage_is_expected_not_false_and_every_kind_is_precise() {
    let r = crate::run_blocking(&crate::scenario(PLANNED_OUTAGE), None);
    let planned: Vec<(&str, &str, f64, f64)> = r
        .planned
        .iter()
        .map(|p| (p.device.as_str(), p.kind.as_str(), p.start, p.end))
        .collect();
    assert_eq!(planned, [("dht-1", "disconnect", 1800.0, 3000.0)]);
    let d = r.detection.as_ref().expect("graded");
    assert!(d.false_alerts.is_empty(), "{:?}", d.false_alerts);
    let mut expected: Vec<(&str, &str)> = d
        .expected_alerts
        .iter()
        .map(|a| (a.device.as_str(), a.kind.as_str()))
        .collect();
    expected.sort();
    assert_eq!(expected, [("dht-1", "offline"), ("dht-1", "stale")]);
    assert!(r.faults.iter().all(|f| f.kind == "spike"), "{:?}", r.faults);
    for (kind, k) in &d.per_kind {
        if k.alerts > 0 {
            assert_eq!(k.precision, Some(1.0), "{kind}: {k:?}");
        }
    }
}
