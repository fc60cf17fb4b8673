//! User-defined models (`[[models]]`): the pump of `scenarios/examples/pump-station.toml`
//! stepped by hand (same seed, same bytes; datasheet ranges and resolution; commands and
//! transitions), run end to end on the embedded broker, and commanded over MQTT.

use crate::{assert_clean, run_blocking, scenario};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use scenarios::{Encoding, Scenario, SetValue};
use sim_core::sim::{InboundCommand, Sim, SimIo};
use sim_core::wire::{Payload, Telemetry, Value};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

fn pump_station() -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/examples/pump-station.toml");
    scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Step `s` by hand for `steps` seconds; every message the fleet sent.
fn messages(s: &Scenario, steps: u64) -> Vec<Telemetry> {
    let (io, mut out, _cmd, _ses) = SimIo::detached(1 << 20);
    let mut sim = Sim::new(s, io);
    sim.step(steps);
    let mut v = Vec::new();
    while let Ok(t) = out.try_recv() {
        v.push(t);
    }
    v
}

/// The payloads as published, byte for byte.
fn payloads(s: &Scenario, msgs: &[Telemetry]) -> Vec<Vec<u8>> {
    msgs.iter()
        .map(|m| {
            let mut buf = Vec::new();
            Payload {
                device_id: &s.devices[m.device as usize].id,
                seq: m.seq,
                timestamp: s.start_epoch + m.sim_time,
                sent_us: None,
                readings: &m.readings,
            }
            .encode_into(Encoding::Json, &mut buf)
            .unwrap();
            buf
        })
        .collect()
}

fn reading(m: &Telemetry, name: &str) -> Option<Value> {
    m.readings.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
}

fn number(m: &Telemetry, name: &str) -> f64 {
    reading(m, name).map_or(f64::NAN, Value::as_f64)
}

#[test]
fn a_user_model_gives_the_same_bytes_for_the_same_seed_and_keeps_its_datasheet() {
    let s = pump_station();
    // The first 19 minutes: before the drift fault.
    let a = messages(&s, 19 * 60);
    let b = messages(&s, 19 * 60);
    assert!(a.len() > 600, "{} messages", a.len());
    assert_eq!(payloads(&s, &a), payloads(&s, &b), "same seed, same bytes");
    let mut other = s.clone();
    other.seed += 1;
    assert_ne!(
        payloads(&s, &a),
        payloads(&other, &messages(&other, 19 * 60))
    );

    let first = String::from_utf8(payloads(&s, &a)[0].clone()).unwrap();
    assert!(first.contains(r#""mode":"running""#), "{first}");
    for m in &a {
        let flow = number(m, "flow");
        assert!(
            (0.0..=60.0).contains(&flow),
            "flow {flow} outside its range"
        );
        assert!(
            ((flow * 10.0).round() / 10.0 - flow).abs() < 1e-9,
            "flow {flow} not in 0.1 steps"
        );
        let p = number(m, "pressure");
        assert!(
            ((p * 100.0).round() / 100.0 - p).abs() < 1e-9,
            "pressure {p}"
        );
        let vib = number(m, "vibration");
        assert!((0.0..=50.0).contains(&vib), "vibration {vib}");
    }
    let of = |dev: u32, from: f64, to: f64| {
        a.iter()
            .filter(move |m| m.device == dev && m.sim_time > from && m.sim_time < to)
    };
    // pump-1 runs at 80 %: 42 m³/h × 0.8, within its accuracy and noise.
    assert!(of(0, 0.0, 1e9).all(|m| (number(m, "flow") - 33.6).abs() < 1.5));
    // pump-2 slowed to 50 % at 5 min.
    assert!(of(1, 310.0, 1e9).all(|m| (number(m, "flow") - 21.0).abs() < 1.5));
    assert!(of(1, 310.0, 1e9).all(|m| number(m, "speed_pct") == 50.0));
    // pump-3 stopped by its named command from 10 to 15 min.
    let stopped: Vec<&Telemetry> = of(2, 605.0, 895.0).collect();
    assert!(!stopped.is_empty());
    for m in stopped {
        assert_eq!(reading(m, "mode"), Some(Value::Text("stopped")));
        assert!(
            number(m, "flow") < 1.5,
            "a stopped pump's flow {}",
            number(m, "flow")
        );
    }
    assert!(of(2, 905.0, 1e9).all(|m| reading(m, "mode") == Some(Value::Text("running"))));
}

#[test]
fn commands_apply_whole_or_not_at_all_and_a_transition_trips_the_pump() {
    let s = pump_station();
    let (io, mut out, cmd, _ses) = SimIo::detached(1 << 20);
    let mut sim = Sim::new(&s, io);
    let send = |device: u32, set: Vec<(&str, SetValue)>| {
        let set = set.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        cmd.try_send(InboundCommand { device, set }).unwrap();
    };
    send(0, vec![("command", SetValue::Text("stop".into()))]);
    send(1, vec![("speed_pct", SetValue::Number(30.0))]);
    // Refused whole: a word the state may not hold, with a valid key beside it.
    send(
        5,
        vec![
            ("speed_pct", SetValue::Number(10.0)),
            ("mode", SetValue::Text("broken".into())),
        ],
    );
    send(5, vec![("speed_pct", SetValue::Number(101.0))]);
    send(5, vec![("command", SetValue::Text("explode".into()))]);
    sim.step(60);
    let st = sim.stats();
    assert_eq!((st.commands_applied, st.commands_rejected), (2, 3));
    let mut msgs = Vec::new();
    while let Ok(t) = out.try_recv() {
        msgs.push(t);
    }
    let last = |d: u32| msgs.iter().rev().find(|m| m.device == d).unwrap();
    assert_eq!(reading(last(0), "mode"), Some(Value::Text("stopped")));
    assert_eq!(number(last(1), "speed_pct"), 30.0);
    assert_eq!(number(last(5), "speed_pct"), 80.0, "pump-6 is as it was");

    // From 20 min the vibration sensor of pump-4 drifts up until the pump trips.
    sim.step(25 * 60 - 60);
    msgs.clear();
    while let Ok(t) = out.try_recv() {
        msgs.push(t);
    }
    let pump4: Vec<&Telemetry> = msgs.iter().filter(|m| m.device == 3).collect();
    let trip = pump4
        .iter()
        .position(|m| reading(m, "mode") == Some(Value::Text("tripped")))
        .expect("pump-4 tripped");
    assert!(
        number(pump4[trip - 1], "vibration") > 7.1,
        "tripped on what it measured"
    );
    assert!(pump4[trip..].iter().all(|m| number(m, "flow") < 1.5));
}

#[test]
fn pump_station_runs_clean_on_the_embedded_broker() {
    let _g = crate::heavy();
    let mut s = pump_station();
    s.speed = scenarios::Speed::Max;
    let r = run_blocking(&s, None);
    assert_clean(&r);
    assert_eq!(r.devices.seen, 6);
    assert_eq!(r.sessions.commands_applied, 4);
    let d = r
        .detection
        .as_ref()
        .expect("graded: a fault and planned changes");
    assert!(d.false_alerts.is_empty(), "{:?}", d.false_alerts);
    assert_eq!(d.per_kind["drift"].detected, 1, "{:?}", d.per_kind);
    let kinds: Vec<(&str, &str)> = r
        .planned
        .iter()
        .map(|p| (p.device.as_str(), p.kind.as_str()))
        .collect();
    assert!(kinds.contains(&("pump-4", "transition")), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|(_, k)| *k == "command").count(), 4);
    for dev in &r.per_device {
        let flow = &dev.readings["flow"];
        assert!(flow.min >= 0.0 && flow.max <= 60.0, "{}: {flow:?}", dev.id);
        assert!(
            !dev.readings.contains_key("mode"),
            "words are states, not readings"
        );
    }
    let pump3 = r.per_device.iter().find(|d| d.id == "pump-3").unwrap();
    assert!(pump3.readings["flow"].min < 1.5, "pump-3 was stopped");
    let pump1 = r.per_device.iter().find(|d| d.id == "pump-1").unwrap();
    assert!(pump1.readings["flow"].min > 30.0, "pump-1 ran throughout");
}

const PUMP: &str = r#"
[scenario]
name = "pumps"
duration = "1h"
tick = "100ms"
speed = 1

[[models]]
name = "pump"
publish_every = "1s"

[models.state]
mode = { values = ["stopped", "running"], initial = "running" }

[models.commands]
stop = { mode = "stopped" }

[models.readings]
flow = { expr = 'if(mode == "running", 40.0, 0.0)', resolution = 0.1 }

[[devices]]
id = "pump-1"
model = "pump"
jitter = "0s"
"#;

#[test]
fn a_named_command_over_mqtt_changes_the_state_and_the_telemetry() {
    let broker = sim_core::transport::broker::EmbeddedBroker::start(16).unwrap();
    let s = scenario(PUMP);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, _rx) = tokio::sync::watch::channel(sim_core::run::Progress::default());
        let opts = sim_core::run::RunOptions {
            broker_url: Some(broker.url()),
            ..Default::default()
        };
        let run = {
            let (stop, s) = (stop.clone(), s.clone());
            tokio::spawn(async move { sim_core::run::run(&s, opts, tx, stop).await })
        };
        let mut o = MqttOptions::new("pump-watcher", "127.0.0.1", broker.addr.port());
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = AsyncClient::new(o, 16);
        let test = async {
            let mut commanded = false;
            loop {
                let p = match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        client
                            .try_subscribe("twin/pumps/pump-1/telemetry", QoS::AtLeastOnce)
                            .unwrap();
                        continue;
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => p,
                    Ok(_) => continue,
                    Err(e) => {
                        eprintln!("watcher: {e}; connecting again");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let v: serde_json::Value = serde_json::from_slice(&p.payload).unwrap();
                match (v["mode"].as_str(), commanded) {
                    (Some("running"), false) => {
                        assert_eq!(v["flow"], 40.0);
                        client
                            .try_publish(
                                "twin/pumps/pump-1/cmd",
                                QoS::AtLeastOnce,
                                false,
                                r#"{"command":"stop"}"#,
                            )
                            .unwrap();
                        commanded = true;
                    }
                    (Some("stopped"), true) => {
                        assert_eq!(v["flow"], 0.0);
                        return;
                    }
                    (Some("running"), true) => {}
                    other => panic!("unexpected {other:?} in {v}"),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), test)
            .await
            .expect("the pump stopped on its command within 30 s");
        stop.store(true, Ordering::Relaxed);
        let report = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(report.sessions.commands_applied, 1);
        assert!(
            report
                .planned
                .iter()
                .any(|p| p.kind == "command" && p.device == "pump-1")
        );
    });
}
