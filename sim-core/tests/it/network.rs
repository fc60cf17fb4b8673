//! Whole runs over the embedded broker.

use crate::{assert_clean, run_blocking, scenario};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim_core::run::{Progress, RunOptions};
use sim_core::transport::broker::EmbeddedBroker;
use sim_core::wire::{Decoded, Encoding};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const SMALL: &str = r#"
[scenario]
name = "small"
seed = 1
duration = "30s"
tick = "1s"
speed = "max"

[[environment]]
name = "room"

[[devices]]
id = "t-{n}"
count = 5
model = "ds18b20"
environment = "room"
publish_every = "1s"
"#;

#[test]
fn a_fleet_runs_end_to_end_over_the_embedded_broker() {
    let s = scenario(SMALL);
    let r = run_blocking(&s, None);
    assert!(r.broker.embedded);
    assert_clean(&r);
    // 5 devices × one message per second × 30 s.
    assert_eq!(r.messages.sent, 150);
    assert_eq!(r.devices.online, 5);
    assert!(
        r.alerts.is_empty(),
        "a healthy fleet raises no alert: {:?}",
        r.alerts
    );
    assert!(r.detection.is_none());
    assert_eq!(r.fleet.groups[0].devices, 5);
    assert_eq!(r.fleet.environments[0].seen, 5);
    for d in &r.per_device {
        assert_eq!(d.received, 30, "{}", d.id);
        let t = d.readings["temperature"];
        // DS18B20 readings come in 1/16 °C steps.
        assert_eq!((t.min * 16.0).fract(), 0.0);
        // The analytics window saw every reading (30 in 30 s, inside its 10 min span).
        let w = &d.windows["temperature"];
        assert_eq!(w.count, 30);
        assert!((w.mean - t.mean).abs() < 1e-3, "{w:?} vs {t:?}");
        assert!(["increasing", "decreasing", "stable"].contains(&w.trend.as_str()));
    }
}

#[test]
fn msgpack_payloads_round_trip_through_the_broker() {
    let s = scenario(&SMALL.replace(
        "[[environment]]",
        "[mqtt]\nencoding = \"msgpack\"\nqos = 2\n\n[[environment]]",
    ));
    let r = run_blocking(&s, None);
    assert_clean(&r);
    assert_eq!(r.messages.received, 150);
}

const RELAY: &str = r#"
[scenario]
name = "cmd"
duration = "1h"
tick = "100ms"
speed = 1

[[devices]]
id = "relay-1"
model = "relay"
publish_every = "1s"
jitter = "0s"
"#;

/// Wait for the next telemetry of relay-1 and return its `on` reading.
///
/// The watcher is an observer, not what these tests check: it subscribes on every
/// CONNACK, so a connection the embedded broker closes under a loaded CI machine (seen
/// once: `ConnectionAborted`) is opened again instead of failing the test.
async fn next_relay_state(client: &AsyncClient, el: &mut rumqttc::EventLoop) -> bool {
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => client
                .try_subscribe("twin/cmd/relay-1/telemetry", QoS::AtLeastOnce)
                .unwrap(),
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let d = Decoded::decode(Encoding::Json, &p.payload).unwrap();
                if let Some((_, v)) = d.readings.iter().find(|(k, _)| k == "on") {
                    return *v == 1.0;
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("watcher: {e}; connecting again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[test]
fn a_relay_command_over_mqtt_flips_the_state_reported_back() {
    let broker = EmbeddedBroker::start(16).unwrap();
    let s = scenario(RELAY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
        let opts = RunOptions {
            broker_url: Some(broker.url()),
            ..RunOptions::default()
        };
        let run = {
            let stop = stop.clone();
            let s = s.clone();
            tokio::spawn(async move { sim_core::run::run(&s, opts, tx, stop).await })
        };
        let mut o = MqttOptions::new("controller", "127.0.0.1", broker.addr.port());
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = AsyncClient::new(o, 16);
        let test = async {
            assert!(
                !next_relay_state(&client, &mut el).await,
                "relay starts off"
            );
            client
                .publish(
                    "twin/cmd/relay-1/cmd",
                    QoS::AtLeastOnce,
                    false,
                    r#"{"set":{"on":true}}"#,
                )
                .await
                .unwrap();
            // Reported state converges to the command.
            while !next_relay_state(&client, &mut el).await {}
            client
                .publish("twin/cmd/relay-1/cmd", QoS::AtLeastOnce, false, "not json")
                .await
                .unwrap();
            client
                .publish(
                    "twin/cmd/relay-1/cmd",
                    QoS::AtLeastOnce,
                    false,
                    r#"{"set":{"on":false}}"#,
                )
                .await
                .unwrap();
            while next_relay_state(&client, &mut el).await {}
        };
        tokio::time::timeout(Duration::from_secs(30), test)
            .await
            .expect("relay state followed the commands within 30 s");
        stop.store(true, Ordering::Relaxed);
        let report = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(report.interrupted);
        assert_eq!(report.sessions.commands_applied, 2);
        assert_eq!(
            report.sessions.commands_rejected, 1,
            "the malformed command is counted"
        );
        assert_eq!(report.messages.lost, 0);
    });
}

#[test]
fn an_unreachable_broker_is_an_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = scenario(SMALL);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
    let opts = RunOptions {
        broker_url: Some(format!("mqtt://127.0.0.1:{port}")),
        connect_timeout: Duration::from_secs(1),
        ..RunOptions::default()
    };
    let err = rt
        .block_on(sim_core::run::run(
            &s,
            opts,
            tx,
            Arc::new(AtomicBool::new(false)),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn the_run_controller_publishes_ui_commands_over_mqtt() {
    let broker = EmbeddedBroker::start(16).unwrap();
    let s = scenario(RELAY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
        let (ctl_tx, ctl_rx) = tokio::sync::mpsc::channel(8);
        let opts = RunOptions {
            broker_url: Some(broker.url()),
            controls: Some(ctl_rx),
            ..RunOptions::default()
        };
        let run = {
            let stop = stop.clone();
            let s = s.clone();
            tokio::spawn(async move { sim_core::run::run(&s, opts, tx, stop).await })
        };
        let mut o = MqttOptions::new("watcher", "127.0.0.1", broker.addr.port());
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = AsyncClient::new(o, 16);
        let test = async {
            assert!(
                !next_relay_state(&client, &mut el).await,
                "relay starts off"
            );
            ctl_tx
                .send(sim_core::run::Control::Command {
                    device: 0,
                    payload: r#"{"set":{"on":true}}"#.into(),
                })
                .await
                .unwrap();
            while !next_relay_state(&client, &mut el).await {}
        };
        tokio::time::timeout(Duration::from_secs(30), test)
            .await
            .expect("the relay followed the controller's command within 30 s");
        stop.store(true, Ordering::Relaxed);
        let report = tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(report.sessions.commands_applied, 1);
    });
}

#[test]
fn attach_discovers_a_running_fleet() {
    let broker = EmbeddedBroker::start(32).unwrap();
    let s = scenario(&SMALL.replace("speed = \"max\"", "speed = 5"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (snap_tx, mut snap_rx) = tokio::sync::watch::channel(std::sync::Arc::new(
            sim_core::snapshot::FleetSnapshot::default(),
        ));
        let stop_attach = Arc::new(AtomicBool::new(false));
        let url = broker.url();
        let attach = {
            let stop = stop_attach.clone();
            let url = url.clone();
            tokio::spawn(async move {
                sim_core::attach::attach(&url, "twin/#", scenarios::Encoding::Json, snap_tx, stop)
                    .await
            })
        };
        let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
        let opts = RunOptions {
            broker_url: Some(url),
            ..RunOptions::default()
        };
        let run = {
            let s = s.clone();
            tokio::spawn(async move {
                sim_core::run::run(&s, opts, tx, Arc::new(AtomicBool::new(false))).await
            })
        };
        // Wait until the attached view has seen all five devices with readings.
        let seen_all = async {
            loop {
                snap_rx.changed().await.unwrap();
                let snap = snap_rx.borrow().clone();
                if snap.devices.len() == 5 && snap.devices.iter().all(|d| d.received >= 2) {
                    return snap;
                }
            }
        };
        let snap = tokio::time::timeout(Duration::from_secs(30), seen_all)
            .await
            .expect("the attached view found the fleet within 30 s");
        let mut ids: Vec<&str> = snap.devices.iter().map(|d| d.id.as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["t-1", "t-2", "t-3", "t-4", "t-5"]);
        // The model is guessed from what the devices publish (temperature only).
        assert!(snap.devices.iter().all(|d| d.kind.name() == "ds18b20"));
        assert!(
            snap.devices
                .iter()
                .all(|d| d.readings.iter().any(|(k, _)| k == "temperature"))
        );
        let report = run.await.unwrap().unwrap();
        assert_eq!(report.messages.lost, 0);
        stop_attach.store(true, Ordering::Relaxed);
        tokio::time::timeout(Duration::from_secs(10), attach)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    });
}
