//! Runs against a real Mosquitto process started by the test on a free port.

use crate::{assert_clean, run_blocking, run_with, scenario};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim_core::run::{Progress, RunOptions};
use sim_core::test_support::Mosquitto;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn example(name: &str) -> scenarios::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/examples")
        .join(name);
    scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn smart_home_against_mosquitto_shows_the_thermostat_loop() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let mut s = example("smart-home.toml");
    s.speed = scenarios::Speed::Max;
    let r = run_blocking(&s, Some(m.url()));
    assert!(!r.broker.embedded);
    assert_clean(&r);
    let dev = |id: &str| r.per_device.iter().find(|d| d.id == id).unwrap();
    for n in 1..=4 {
        let thermo = dev(&format!("thermostat-{n}"));
        let heating = thermo.readings["heating"];
        // The loop ran: heating on at some reports and off at others.
        assert_eq!(
            (heating.min, heating.max),
            (0.0, 1.0),
            "thermostat-{n}: {heating:?}"
        );
        let room = dev(&format!("dht-{n}")).readings["temperature"];
        assert!(room.min < 18.0 && room.max > 20.5, "dht-{n} went {room:?}");
    }
}

const LWT: &str = r#"
[scenario]
name = "lwt"
duration = "8s"
tick = "100ms"
speed = 1

[[devices]]
id = "plug-1"
model = "relay"
publish_every = "1s"

[[events]]
at = "2s"
target = "plug-1"
action = "disconnect"

[[events]]
at = "4s"
target = "plug-1"
action = "reconnect"
"#;

#[test]
fn disconnect_fires_the_last_will_and_reconnect_comes_back_online() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let s = scenario(LWT);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = MqttOptions::new("watcher", "127.0.0.1", m.addr.port());
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = AsyncClient::new(o, 16);
        client
            .subscribe("twin/lwt/plug-1/status", QoS::AtLeastOnce)
            .await
            .unwrap();
        // Wait for the SUBACK so no status is missed.
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = el.poll().await.unwrap() {
                break;
            }
        }
        let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
        let opts = RunOptions {
            broker_url: Some(m.url()),
            ..RunOptions::default()
        };
        let s2 = s.clone();
        let run = tokio::spawn(async move {
            sim_core::run::run(&s2, opts, tx, Arc::new(AtomicBool::new(false))).await
        });
        let mut seen = Vec::new();
        let watch = async {
            while seen.len() < 4 {
                if let Event::Incoming(Packet::Publish(p)) = el.poll().await.unwrap() {
                    seen.push(String::from_utf8_lossy(&p.payload).to_string());
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .expect("statuses within 30 s");
        // online, then the last will, then online again, then the clean shutdown's offline.
        assert_eq!(seen, ["online", "offline", "online", "offline"]);
        let r = run.await.unwrap().unwrap();
        assert_eq!(r.messages.lost, 0);
        assert_eq!(r.sessions.reconnects, 1);
        assert!(
            r.messages.sent >= 5 && r.messages.sent <= 8,
            "{:?}",
            r.messages
        );
    });
}

const RETAINED: &str = r#"
[scenario]
name = "retained"
duration = "5s"
tick = "100ms"
speed = 1

[[devices]]
id = "plug-{n}"
count = 3
model = "relay"
publish_every = "1s"

# plug-1 drops off for good: its last will leaves a retained `offline`.
[[events]]
at = "2s"
target = "plug-1"
action = "disconnect"
"#;

/// The retained messages under `filter` on a broker: subscribe, then publish a marker;
/// the broker hands over what it retains before anything published after the SUBACK.
fn retained_under(port: u16, filter: &str) -> Vec<(String, Vec<u8>)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = MqttOptions::new("retained-reader", "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = AsyncClient::new(o, 16);
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        let marker = "twin/zz-marker";
        let read = async {
            let mut retained = Vec::new();
            loop {
                match el.poll().await.unwrap() {
                    Event::Incoming(Packet::SubAck(_)) => client
                        .publish(marker, QoS::AtLeastOnce, false, "end")
                        .await
                        .unwrap(),
                    Event::Incoming(Packet::Publish(p)) if p.topic == marker => {
                        return retained;
                    }
                    Event::Incoming(Packet::Publish(p)) if p.retain => {
                        retained.push((p.topic.clone(), p.payload.to_vec()));
                    }
                    _ => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the marker comes back within 10 s")
    })
}

/// Run the fleet on `url` with `keep_retained` as given.
fn run_retained(url: String, keep_retained: bool) -> sim_core::report::Report {
    let opts = RunOptions {
        broker_url: Some(url),
        keep_retained,
        ..RunOptions::default()
    };
    run_with(&scenario(RETAINED), opts)
}

#[test]
fn a_run_leaves_the_broker_as_it_found_it_unless_asked_to_keep_the_last_states() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let r = run_retained(m.url(), false);
    assert_eq!((r.devices.total, r.devices.seen), (3, 3));
    assert_eq!(retained_under(m.addr.port(), "#"), Vec::new());
    // Asked to keep them: each device's last state stays, the dropped one's by its will.
    let r = run_retained(m.url(), true);
    assert_eq!(r.devices.seen, 3);
    let mut kept = retained_under(m.addr.port(), "#");
    kept.sort();
    let offline = |n: u32| {
        (
            format!("twin/retained/plug-{n}/status"),
            b"offline".to_vec(),
        )
    };
    assert_eq!(kept, vec![offline(1), offline(2), offline(3)]);
}
