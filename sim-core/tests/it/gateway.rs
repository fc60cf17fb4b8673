//! Devices behind edge gateways: one session per gateway, against a real Mosquitto. A
//! gateway's last will takes its devices off line, a device behind one goes off line on
//! its own through its gateway, a command reaches a device through its gateway, and
//! every message through a gateway is counted exactly.

use crate::{assert_clean, run_blocking, scenario};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim_core::run::{Progress, RunOptions};
use sim_core::test_support::Mosquitto;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Two gateways of three DHT22s, a relay behind the second, and one DHT22 of its own.
/// hub-1 goes off line at 3 s for 3 s (a gateway fault); dht-5, behind hub-2, drops off
/// on its own at 4 s and comes back at 6 s.
const HUBS: &str = r#"
[scenario]
name = "hubs"
duration = "10s"
tick = "100ms"
speed = 1

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 6
model = "dht22"
environment = "room"
publish_every = "2s"
jitter = "500ms"
gateway = "hub-{n}"
devices_per_gateway = 3

[[devices]]
id = "relay-1"
model = "relay"
publish_every = "1s"
gateway = "hub-2"

[[devices]]
id = "own-1"
model = "dht22"
environment = "room"
publish_every = "2s"
jitter = "500ms"

[[events]]
at = "3s"
target = "dht-2"
action = "fault"
fault = { kind = "offline", duration = "3s", on = "gateway" }

[[events]]
at = "4s"
target = "dht-5"
action = "disconnect"

[[events]]
at = "6s"
target = "dht-5"
action = "reconnect"
"#;

/// The retained statuses of the fleet, in the order a watcher saw them; at relay-1's
/// first telemetry (its gateway has subscribed by then) a command switches it on.
async fn watch_statuses(
    client: &AsyncClient,
    el: &mut rumqttc::EventLoop,
    seen: &mut Vec<(String, String)>,
    until: impl Fn(&[(String, String)]) -> bool,
) {
    let mut commanded = false;
    while !until(seen) {
        if let Event::Incoming(Packet::Publish(p)) = el.poll().await.unwrap() {
            let who = p.topic.split('/').nth(2).unwrap_or("").to_string();
            if p.topic.ends_with("/status") {
                seen.push((who, String::from_utf8_lossy(&p.payload).to_string()));
            } else if !commanded {
                commanded = true;
                let on = r#"{"set":{"on":true}}"#;
                client
                    .try_publish("twin/hubs/relay-1/cmd", QoS::AtLeastOnce, false, on)
                    .unwrap();
            }
        }
    }
}

/// What one id's statuses were, in order.
fn of(seen: &[(String, String)], id: &str) -> Vec<String> {
    seen.iter()
        .filter(|(w, _)| w == id)
        .map(|(_, s)| s.clone())
        .collect()
}

#[test]
fn a_gateways_last_will_takes_its_devices_offline_and_a_device_behind_one_drops_alone() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let s = scenario(HUBS);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (seen, r) = rt.block_on(async {
        let mut o = MqttOptions::new("watcher", "127.0.0.1", m.addr.port());
        o.set_keep_alive(Duration::from_secs(10));
        let (client, mut el) = AsyncClient::new(o, 16);
        client
            .subscribe("twin/hubs/+/status", QoS::AtLeastOnce)
            .await
            .unwrap();
        client
            .subscribe("twin/hubs/relay-1/telemetry", QoS::AtLeastOnce)
            .await
            .unwrap();
        let mut subacks = 0;
        while subacks < 2 {
            if let Event::Incoming(Packet::SubAck(_)) = el.poll().await.unwrap() {
                subacks += 1;
            }
        }
        let (tx, rx) = tokio::sync::watch::channel(Progress::default());
        let opts = RunOptions {
            broker_url: Some(m.url()),
            keep_retained: true,
            ..RunOptions::default()
        };
        let run = tokio::spawn(async move {
            sim_core::run::run(&s, opts, tx, Arc::new(AtomicBool::new(false))).await
        });
        let mut seen = Vec::new();
        // Until every session has said its goodbye at the end of the run (the sessions
        // end at once, in no order).
        let done = |v: &[(String, String)]| {
            let ended = |id: &str| of(v, id).last().map(String::as_str) == Some("offline");
            of(v, "hub-1").len() >= 4
                && of(v, "hub-2").len() >= 2
                && of(v, "dht-5").len() >= 4
                && [
                    "dht-1", "dht-2", "dht-3", "dht-4", "dht-6", "relay-1", "own-1",
                ]
                .into_iter()
                .all(ended)
        };
        tokio::time::timeout(
            Duration::from_secs(40),
            watch_statuses(&client, &mut el, &mut seen, done),
        )
        .await
        .expect("statuses within 40 s");
        let r = run.await.unwrap().unwrap();
        // Progress counts devices, not the three sessions they use.
        assert_eq!(rx.borrow().devices, 8);
        (seen, r)
    });
    // hub-1: online, its last will, online again, the clean end's offline.
    assert_eq!(
        of(&seen, "hub-1"),
        ["online", "offline", "online", "offline"]
    );
    assert_eq!(of(&seen, "hub-2"), ["online", "offline"]);
    // Behind hub-1, no device said offline before the end: the gateway's will said it.
    for id in ["dht-1", "dht-2", "dht-3"] {
        let st = of(&seen, id);
        assert_eq!(
            st.first().map(String::as_str),
            Some("online"),
            "{id}: {st:?}"
        );
        let will = seen
            .iter()
            .position(|(w, s)| w == "hub-1" && s == "offline");
        let own_off = seen.iter().position(|(w, s)| w == id && s == "offline");
        assert!(
            own_off > will,
            "{id} said offline only at the end: {seen:?}"
        );
    }
    // dht-5 went off and on line alone, through hub-2.
    assert_eq!(
        of(&seen, "dht-5"),
        ["online", "offline", "online", "offline"]
    );
    assert_eq!(of(&seen, "dht-4"), ["online", "offline"]);
    assert_eq!(of(&seen, "relay-1"), ["online", "offline"]);
    assert_eq!(of(&seen, "own-1"), ["online", "offline"]);

    assert_eq!(r.messages.lost, 0, "{:?}", r.messages);
    assert_eq!(r.messages.dropped_at_source, 0, "{:?}", r.messages);
    assert_eq!(r.messages.sent, r.messages.received, "{:?}", r.messages);
    // The gateway's fault is in the ground truth once for each of its devices.
    let mut struck: Vec<&str> = r
        .faults
        .iter()
        .filter(|f| f.kind == "offline")
        .map(|f| f.device.as_str())
        .collect();
    struck.sort();
    assert_eq!(struck, ["dht-1", "dht-2", "dht-3"]);
    // The ingest took each of them off line from the gateway's will: an offline alert
    // on each, and on dht-5 (disconnected by an event, not a fault), none elsewhere.
    let mut offline: Vec<&str> = r
        .alerts
        .iter()
        .filter(|a| a.kind == "offline")
        .map(|a| a.device.as_str())
        .collect();
    offline.sort();
    assert_eq!(
        offline,
        ["dht-1", "dht-2", "dht-3", "dht-5"],
        "{:?}",
        r.alerts
    );
    let score = &r.detection.as_ref().expect("graded").per_kind["offline"];
    assert_eq!((score.injected, score.detected), (3, 3), "{score:?}");
    // Two gateways and one device of its own: a reconnect of hub-1 only.
    assert_eq!(r.sessions.reconnects, 1, "{:?}", r.sessions);
    assert_eq!((r.sessions.opened, r.sessions.gateways), (3, 2));
    // The command came through hub-2 to relay-1, and it switched on.
    assert_eq!(r.sessions.commands_applied, 1, "{:?}", r.sessions);
    let relay = r.per_device.iter().find(|d| d.id == "relay-1").unwrap();
    assert_eq!(relay.readings["on"].max, 1.0, "{:?}", relay.readings);
}

/// 500 devices behind 4 gateways, a simulated half hour at speed max, QoS 1.
const MANY: &str = r#"
[scenario]
name = "gw-many"
duration = "30m"
speed = "max"

[[environment]]
name = "bed"
humidity = 60.0

[[devices]]
id = "soil-{n}"
count = 500
model = "soil_moisture"
environment = "bed"
publish_every = "30s"
gateway = "gw-{n}"
devices_per_gateway = 125
"#;

#[test]
fn every_message_through_gateways_is_counted_exactly_on_mosquitto() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let s = scenario(MANY);
    assert_eq!(s.gateways().len(), 4);
    let r = run_blocking(&s, Some(m.url()));
    assert_clean(&r);
    let sent = r.messages.sent;
    assert!((500 * 59..=500 * 61).contains(&sent), "{:?}", r.messages);
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
}
