//! Every shipped example runs (briefly) over the embedded broker.

use crate::{assert_clean, run_blocking};
use std::path::Path;

fn run_example(name: &str, sim_seconds: f64) -> sim_core::report::Report {
    run_example_on(name, sim_seconds, None)
}

fn run_example_on(name: &str, sim_seconds: f64, url: Option<String>) -> sim_core::report::Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/examples")
        .join(name);
    let mut s = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
    s.duration = sim_seconds;
    s.events.retain(|e| e.at <= sim_seconds);
    s.speed = scenarios::Speed::Max;
    let r = run_blocking(&s, url);
    assert_eq!(r.scenario, s.name);
    r
}

#[test]
fn quickstart_runs() {
    let r = run_example("quickstart.toml", 120.0);
    assert_clean(&r);
}

#[test]
fn smart_home_runs() {
    let r = run_example("smart-home.toml", 300.0);
    assert_clean(&r);
}

#[test]
fn office_runs_clean_and_raises_no_alert() {
    let _heavy = crate::heavy();
    let r = run_example("office.toml", 600.0);
    assert_eq!(r.devices.total, 400);
    assert_clean(&r);
    assert!(r.alerts.is_empty(), "a fault-free building: {:?}", r.alerts);
}

#[test]
fn greenhouse_runs() {
    let r = run_example("greenhouse.toml", 300.0);
    assert_clean(&r);
}

#[test]
fn day_1000_runs_clean_and_raises_no_alert() {
    let _heavy = crate::heavy();
    // Half an hour of the day: a message a minute from 1,000 devices of ten models,
    // and the heaters' extra state reports when their thermostats switch them.
    let r = run_example("day-1000.toml", 1800.0);
    assert_eq!(r.devices.total, 1000);
    assert!(r.messages.sent >= 29_000, "{:?}", r.messages);
    assert_clean(&r);
    assert!(r.alerts.is_empty(), "a fault-free fleet: {:?}", r.alerts);
}

#[test]
fn load_10k_runs_against_mosquitto() {
    // 10,000 sessions need 10,000 descriptors in this process plus 10,000 in the broker:
    // with the embedded broker both sides count against one process's limit, so this
    // example runs against a Mosquitto process.
    if !sim_core::test_support::Mosquitto::wanted() {
        return;
    }
    let _heavy = crate::heavy();
    let m = sim_core::test_support::Mosquitto::start("").unwrap();
    let r = run_example_on("load-10k.toml", 2.0, Some(m.url()));
    assert_eq!(r.devices.total, 10_000);
    assert_clean(&r);
}
