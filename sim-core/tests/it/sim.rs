//! The sim without a network: physics, determinism, timeline, commands, backpressure.

use crate::scenario;
use scenarios::{Scenario, SetValue, Speed};
use sim_core::sim::clock::{self, SimProgress};
use sim_core::sim::{InboundCommand, SessionCommand, Sim, SimIo};
use sim_core::wire::{Telemetry, Value};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

const THERMO_LOOP: &str = r#"
[scenario]
name = "loop"
seed = 7
duration = "12h"
tick = "1s"
speed = "max"

[[environment]]
name = "room"
initial_temperature = 15.0
outdoor_mean = 2.0
outdoor_amplitude = 4.0
time_constant = "2h"
heater_gain = 10.0

[[devices]]
id = "dht-1"
model = "dht22"
environment = "room"
publish_every = "10s"

[[devices]]
id = "heater-1"
model = "heater"
environment = "room"
power_w = 1500.0

[[devices]]
id = "thermostat-1"
model = "thermostat"
environment = "room"
setpoint = 21.0
hysteresis = 1.0
sensor = "dht-1"
heater = "heater-1"
"#;

fn drain(rx: &mut tokio::sync::mpsc::Receiver<Telemetry>) -> Vec<Telemetry> {
    let mut v = Vec::new();
    while let Ok(t) = rx.try_recv() {
        v.push(t);
    }
    v
}

#[test]
fn thermostat_keeps_its_room_inside_the_hysteresis_band() {
    let s = scenario(THERMO_LOOP);
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 20);
    let mut sim = Sim::new(&s, io);
    // Warm-up from 15 °C: the heater must be on and the room must reach the band.
    sim.step(3 * 3600);
    let t = sim.room_temperature(0).unwrap();
    assert!(t > 20.0, "room warmed to {t}");
    let (mut lo, mut hi, mut switches, mut last) = (f64::MAX, f64::MIN, 0, sim.switch_state(1));
    for _ in 0..(9 * 3600) {
        sim.step(1);
        let t = sim.room_temperature(0).unwrap();
        lo = lo.min(t);
        hi = hi.max(t);
        let s = sim.switch_state(1);
        if s != last {
            switches += 1;
            last = s;
        }
    }
    // Band 20.5..21.5, widened by the DHT22's ±0.5 °C and one 10 s sampling period.
    assert!(lo >= 19.9 && hi <= 22.1, "room ranged {lo:.2}..{hi:.2}");
    assert!(
        hi - lo > 0.5,
        "the loop cycles through the band: {lo:.2}..{hi:.2}"
    );
    assert!(switches >= 6, "heater switched {switches} times in 9 h");
    // The thermostat reported heating on and off, and the heater its power.
    let msgs = drain(&mut out);
    let heating: Vec<bool> = msgs
        .iter()
        .filter(|m| m.device == 2)
        .filter_map(|m| m.readings.iter().find(|(k, _)| *k == "heating"))
        .map(|(_, v)| *v == Value::Bool(true))
        .collect();
    assert!(heating.contains(&true) && heating.contains(&false));
}

fn collect_run(s: &Scenario, steps: u64, chunk: u64) -> Vec<Telemetry> {
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 20);
    let mut sim = Sim::new(s, io);
    let mut left = steps;
    while left > 0 {
        let n = chunk.min(left);
        sim.step(n);
        left -= n;
    }
    drain(&mut out)
}

const MIXED: &str = r#"
[scenario]
name = "mixed"
seed = 42
duration = "1h"
tick = "1s"
speed = "max"

[[environment]]
name = "room-{n}"
count = 3

[[devices]]
id = "dht-{n}"
count = 3
model = "dht22"
environment = "room-{n}"
publish_every = "5s"

[[devices]]
id = "bme-{n}"
count = 3
model = "bme280"
environment = "room-{n}"
publish_every = "7s"

[[devices]]
id = "ds-{n}"
count = 2
model = "ds18b20"
environment = "room-{n}"

[[devices]]
id = "tmp-{n}"
count = 2
model = "tmp36"
environment = "room-{n}"

[[devices]]
id = "pir-{n}"
count = 3
model = "pir"
environment = "room-{n}"
events_per_hour = 60.0

[[devices]]
id = "meter"
model = "power_meter"

[[devices]]
id = "node-{n}"
count = 2
model = "battery"
battery_mah = 1.0
drain_mah = 0.1
publish_every = "10s"
"#;

#[test]
fn same_seed_same_telemetry_whatever_the_pacing_other_seed_differs() {
    let s = scenario(MIXED);
    let a = collect_run(&s, 900, 900);
    let b = collect_run(&s, 900, 7);
    assert!(a.len() > 1000, "{} messages", a.len());
    assert_eq!(a, b, "stepping in other chunks changes nothing");

    // The sim thread paced as fast as possible produces the same messages too.
    let mut s900 = s.clone();
    s900.duration = 900.0;
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 20);
    let (ptx, _prx) = tokio::sync::watch::channel(SimProgress::default());
    let handle = clock::spawn(
        Sim::new(&s900, io),
        Speed::Max,
        Arc::new(AtomicBool::new(false)),
        Arc::default(),
        ptx,
    )
    .unwrap();
    let stats = handle.join().unwrap();
    assert_eq!(stats.steps, 900);
    assert_eq!(drain(&mut out), a);

    let mut other = s.clone();
    other.seed = 43;
    let c = collect_run(&other, 900, 900);
    assert_ne!(a, c, "another seed gives other values");
}

#[test]
fn battery_nodes_drain_and_go_silent() {
    let s = scenario(MIXED);
    let msgs = collect_run(&s, 900, 900);
    // 1 mAh at 0.1 mAh per publish: exactly ten messages, the last at 0 %.
    for node in [
        s.device_index("node-1").unwrap(),
        s.device_index("node-2").unwrap(),
    ] {
        let mine: Vec<&Telemetry> = msgs.iter().filter(|m| m.device as usize == node).collect();
        assert_eq!(mine.len(), 10);
        let last = mine.last().unwrap();
        assert!(
            last.readings.contains(&("battery", Value::Int(0))),
            "{:?}",
            last.readings
        );
        assert!(
            last.readings
                .iter()
                .any(|(k, v)| *k == "voltage" && *v == Value::Float(3.0))
        );
    }
}

#[test]
fn a_full_outbox_counts_every_message_it_refuses() {
    let s = scenario(MIXED);
    let (io, mut out, _cmd, _ses) = SimIo::detached(5);
    let mut sim = Sim::new(&s, io);
    sim.step(600);
    let st = sim.stats();
    let delivered = drain(&mut out).len() as u64;
    assert_eq!(delivered, 5);
    assert_eq!(st.produced, 5);
    // Every message the devices generated is either in the outbox or counted as dropped:
    // compare with an unconstrained run of the same scenario.
    let all = collect_run(&s, 600, 600).len() as u64;
    assert_eq!(st.produced + st.dropped_total(), all);
}

const ACTUATORS: &str = r#"
[scenario]
name = "act"
duration = "1m"
tick = "1s"
speed = "max"

[[environment]]
name = "room"

[[devices]]
id = "relay-1"
model = "relay"
publish_every = "5s"
jitter = "0s"

[[devices]]
id = "thermostat-1"
model = "thermostat"
environment = "room"

[[devices]]
id = "heater-1"
model = "heater"
environment = "room"

[[events]]
at = "10s"
target = "relay-1"
action = "set"
set = { on = true }

[[events]]
at = "20s"
target = "relay-1"
action = "disconnect"

[[events]]
at = "30s"
target = "relay-1"
action = "reconnect"

[[events]]
at = "40s"
target = "relay-*"
action = "rate"
publish_every = "1s"
"#;

#[test]
fn timeline_sets_disconnects_reconnects_and_changes_rate() {
    let s = scenario(ACTUATORS);
    let (io, mut out, _cmd, mut ses) = SimIo::detached(1 << 16);
    let mut sim = Sim::new(&s, io);
    sim.step(9);
    assert_eq!(sim.switch_state(0), Some(false));
    sim.step(1);
    assert_eq!(sim.switch_state(0), Some(true));
    sim.step(10);
    assert_eq!(ses.try_recv().unwrap(), SessionCommand::Disconnect(0));
    let before = drain(&mut out);
    sim.step(9);
    let offline: Vec<_> = drain(&mut out)
        .into_iter()
        .filter(|m| m.device == 0)
        .collect();
    assert!(
        offline.is_empty(),
        "an offline device publishes nothing: {offline:?}"
    );
    sim.step(1);
    assert_eq!(ses.try_recv().unwrap(), SessionCommand::Reconnect(0));
    sim.step(10);
    let _ = drain(&mut out);
    sim.step(20);
    let fast = drain(&mut out)
        .into_iter()
        .filter(|m| m.device == 0)
        .count();
    assert!((19..=21).contains(&fast), "{fast} messages in 20 s at 1/s");
    // The relay reported its new state right away (at 10 s), not at its next period.
    let at_ten = before
        .iter()
        .find(|m| m.device == 0 && m.readings.contains(&("on", Value::Bool(true))))
        .unwrap();
    assert!(
        (at_ten.sim_time - 10.0).abs() < 1e-9 || (at_ten.sim_time - 11.0).abs() < 1e-9,
        "{}",
        at_ten.sim_time
    );
}

#[test]
fn inbound_commands_apply_or_are_refused() {
    let s = scenario(ACTUATORS);
    let (io, _out, cmd, _ses) = SimIo::detached(1 << 16);
    let mut sim = Sim::new(&s, io);
    cmd.try_send(InboundCommand {
        device: 1,
        set: vec![("setpoint".into(), SetValue::Number(25.5))],
    })
    .unwrap();
    cmd.try_send(InboundCommand {
        device: 0,
        set: vec![("setpoint".into(), SetValue::Number(1.0))],
    })
    .unwrap();
    cmd.try_send(InboundCommand {
        device: 2,
        set: vec![("on".into(), SetValue::Bool(true))],
    })
    .unwrap();
    sim.step(1);
    assert_eq!(sim.thermostat(1).unwrap().setpoint, 25.5);
    let st = sim.stats();
    assert_eq!((st.commands_applied, st.commands_rejected), (2, 1));
}

#[test]
fn pacing_pauses_and_rescales_the_sim_clock() {
    let mut s = scenario(ACTUATORS);
    s.duration = 3600.0;
    s.speed = Speed::Factor(100.0);
    let (io, _out, _cmd, _ses) = SimIo::detached(1 << 16);
    let (ptx, mut prx) = tokio::sync::watch::channel(SimProgress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let pacing = Arc::new(clock::Pacing::default());
    pacing.set_paused(true);
    let handle =
        clock::spawn(Sim::new(&s, io), s.speed, stop.clone(), pacing.clone(), ptx).unwrap();
    // Paused: the progress reports stay at 0 s while the thread runs.
    let wait_report = |rx: &mut tokio::sync::watch::Receiver<SimProgress>| {
        let t0 = std::time::Instant::now();
        while !rx.has_changed().unwrap() {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(5),
                "no progress report"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        *rx.borrow_and_update()
    };
    for _ in 0..3 {
        assert_eq!(wait_report(&mut prx).now, 0.0);
    }
    // Resumed at 100x: sim time advances about 100 s per wall second.
    pacing.set_paused(false);
    let a = wait_report(&mut prx).now;
    let t = std::time::Instant::now();
    let mut b = a;
    while t.elapsed() < std::time::Duration::from_millis(500) {
        b = wait_report(&mut prx).now;
    }
    let rate = (b - a) / t.elapsed().as_secs_f64();
    assert!(
        (40.0..160.0).contains(&rate),
        "{rate} sim s per wall s at 100x"
    );
    // Four times faster.
    pacing.set_scale(4.0);
    let a = wait_report(&mut prx).now;
    let t = std::time::Instant::now();
    let mut b = a;
    while t.elapsed() < std::time::Duration::from_millis(500) {
        b = wait_report(&mut prx).now;
    }
    let rate = (b - a) / t.elapsed().as_secs_f64();
    assert!(
        (200.0..600.0).contains(&rate),
        "{rate} sim s per wall s at 400x"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    handle.join().unwrap();
}

#[test]
fn steering_applies_timeline_actions_at_once() {
    let s = scenario(MIXED);
    let (mut io, _out, _cmd, mut ses) = SimIo::detached(1 << 16);
    let (steer_tx, steer_rx) = tokio::sync::mpsc::channel(8);
    io.steer = Some(steer_rx);
    let mut sim = Sim::new(&s, io);
    sim.step(10);
    let dht = s.device_index("dht-1").unwrap() as u32;
    steer_tx
        .try_send(sim_core::sim::Steer {
            device: dht,
            action: scenarios::EventAction::Disconnect,
        })
        .unwrap();
    steer_tx
        .try_send(sim_core::sim::Steer {
            device: dht,
            action: scenarios::EventAction::Fault(scenarios::FaultSpec {
                kind: scenarios::FaultKind::Stuck,
                sensor: None,
                magnitude: 0.0,
                duration: 60.0,
                per_hour: 0.0,
                on_gateway: false,
            }),
        })
        .unwrap();
    sim.step(1);
    assert_eq!(ses.try_recv().unwrap(), SessionCommand::Disconnect(dht));
    let f = &sim.stats().faults;
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].kind.as_str(), f[0].start, f[0].end),
        ("stuck", 11.0, 71.0)
    );
    assert_eq!(f[0].sensor.as_deref(), Some("temperature"));
}

/// Two hubs of two DS18B20s; at 5 s hub-1's battery dies (a gateway fault).
const HUB_DEATH: &str = r#"
[scenario]
name = "hub-death"
duration = "30s"
tick = "1s"
speed = "max"

[[environment]]
name = "hall"

[[devices]]
id = "ds-{n}"
count = 4
model = "ds18b20"
environment = "hall"
publish_every = "1s"
jitter = "1ms"
gateway = "hub-{n}"
devices_per_gateway = 2

[[events]]
at = "5s"
target = "ds-2"
action = "fault"
fault = { kind = "battery_death", on = "gateway" }
"#;

#[test]
fn a_gateways_battery_death_silences_every_device_behind_it_and_only_those() {
    let s = scenario(HUB_DEATH);
    let (io, mut out, _cmd, mut ses) = SimIo::detached(1 << 16);
    let mut sim = Sim::new(&s, io);
    sim.step(5);
    assert_eq!(ses.try_recv().unwrap(), SessionCommand::GatewayDown(0));
    assert!(ses.try_recv().is_err(), "one gateway down, no device's own");
    let _ = drain(&mut out);
    sim.step(10);
    let after = drain(&mut out);
    assert!(
        after.iter().all(|m| m.device >= 2),
        "hub-1's devices fell silent"
    );
    assert_eq!(after.iter().filter(|m| m.device == 2).count(), 10);
    let stats = sim.stats();
    let mut dead: Vec<(u32, &str)> = stats
        .faults
        .iter()
        .map(|f| (f.device_index, f.kind.as_str()))
        .collect();
    dead.sort();
    assert_eq!(dead, [(0, "battery_death"), (1, "battery_death")]);
    assert!(
        stats
            .faults
            .iter()
            .all(|f| f.start == 5.0 && f.end.is_infinite())
    );
}
