//! The mirror against real Mosquitto processes and emulated devices (Tasmota, generic
//! JSON, ESPHome, Homie): readings reach the
//! twins, shadow updates reach the devices and converge, a killed device goes offline, a
//! drifting sensor raises a divergence alert, broken payloads are counted.

use hw_bridge::MirrorConfig;
use hw_bridge::emulator::{self, Curve};
use hw_bridge::report::MirrorReport;
use hw_bridge::session::{MirrorOptions, run};
use hw_bridge::set::{SetOutcome, set};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::{Map, Value, json};
use sim_core::test_support::Mosquitto;
use sim_core::transport::endpoint::{Endpoint, Security};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

pub(crate) const PERIOD: Duration = Duration::from_millis(200);
pub(crate) const WAIT: Duration = Duration::from_secs(15);

fn config(url: &str) -> MirrorConfig {
    let text = format!(
        r#"
[mirror]
fleet = "home"
broker = "{url}"
stale_after = "30s"
confirm_timeout = "5s"
max_payload = 65536

[[device]]
id = "plug"
adapter = "tasmota"
topic = "tasmota_plug"
model = "dht22"

[[device]]
id = "pico-1"
adapter = "json"
topic = "sensors/pico-1/telemetry"
status_topic = "sensors/pico-1/status"
command_topic = "sensors/pico-1/cmd"
readings = {{ temperature = "/temperature", humidity = "/humidity" }}
state = {{ relay = "/relay" }}
[device.twin]
heater = "plug.power"
tolerance = 1.0

[[device]]
id = "kitchen"
adapter = "esphome"
node = "kitchen"
readings = {{ temperature = "kitchen_temperature" }}

[[device]]
id = "greenhouse"
adapter = "homie"
device_id = "greenhouse"
readings = {{ temperature = "sensor/temperature" }}
state = {{ relay = "relay/on" }}
"#
    );
    MirrorConfig::parse(&text, "mirror.toml").expect("valid config")
}

pub(crate) struct Running {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<MirrorReport, hw_bridge::BridgeError>>,
    notes: UnboundedReceiver<String>,
    /// Every note received so far.
    pub(crate) seen: Vec<String>,
}

impl Running {
    pub(crate) fn start(cfg: &MirrorConfig, url: &str) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, notes) = tokio::sync::mpsc::unbounded_channel();
        let opts = MirrorOptions {
            url: url.to_string(),
            endpoint: Endpoint::new(url, &Security::default()).expect("endpoint"),
            duration: Some(Duration::from_secs(120)),
            connect_timeout: Duration::from_secs(10),
            wait_for_broker: Duration::ZERO,
            client_id: "twin-mirror-test".into(),
            record: None,
        };
        let cfg = cfg.clone();
        let s = stop.clone();
        let task = tokio::spawn(async move { run(&cfg, opts, s, Some(tx)).await });
        Running {
            stop,
            task,
            notes,
            seen: Vec::new(),
        }
    }

    /// Wait for a note containing every one of `parts`.
    pub(crate) async fn note(&mut self, parts: &[&str]) -> String {
        let hit = |n: &String| parts.iter().all(|p| n.contains(p));
        if let Some(n) = self.seen.iter().find(|n| hit(n)) {
            return n.clone();
        }
        let found = tokio::time::timeout(WAIT, async {
            while let Some(n) = self.notes.recv().await {
                self.seen.push(n.clone());
                if hit(&n) {
                    return Some(n);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(n)) => n,
            _ => panic!(
                "no note with {parts:?} within {WAIT:?}; notes: {:#?}",
                self.seen
            ),
        }
    }

    pub(crate) async fn stop(self) -> MirrorReport {
        self.stop.store(true, Ordering::Relaxed);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("mirror stops")
            .expect("mirror task")
            .expect("mirror ran")
    }
}

pub(crate) fn constant(v: f64) -> Curve {
    Arc::new(move |_| v)
}

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("object")
}

pub(crate) async fn set_and_wait(url: &str, device: &str, desired: Value) -> SetOutcome {
    let ep = Endpoint::new(url, &Security::default()).expect("endpoint");
    set(
        &ep,
        url,
        "home",
        device,
        &map(desired),
        None,
        Duration::from_secs(10),
    )
    .await
    .expect("set answered")
}

pub(crate) async fn junk_client(url: &str) -> AsyncClient {
    let scenarios::BrokerUrl { host, port, .. } = scenarios::BrokerUrl::parse(url).expect("url");
    let mut o = MqttOptions::new("junk", host, port);
    o.set_max_packet_size(4 * 1024 * 1024, 4 * 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
    client
}

pub(crate) fn device<'a>(r: &'a MirrorReport, id: &str) -> &'a hw_bridge::report::MirroredDevice {
    r.per_device
        .iter()
        .find(|d| d.id == id)
        .expect("device in the report")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasmota_json_and_esphome_devices_are_mirrored_at_once() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    let plug = emulator::tasmota_plug(&url, "tasmota_plug", PERIOD, constant(21.5));
    let pico = emulator::json_sensor(&url, "pico-1", PERIOD, constant(20.25));
    let kitchen = emulator::esphome_node(&url, "kitchen", PERIOD, constant(22.4));
    let greenhouse = emulator::homie_device(&url, "greenhouse", PERIOD, constant(18.75));
    let mut m = Running::start(&config(&url), &url);
    for id in ["plug", "pico-1", "kitchen", "greenhouse"] {
        m.note(&[&format!("{id}: online")]).await;
    }

    // Desired states become each device's native command, and each converges.
    for (id, key, emu) in [
        ("plug", "power", &plug),
        ("pico-1", "relay", &pico),
        ("kitchen", "fan", &kitchen),
        ("greenhouse", "relay", &greenhouse),
    ] {
        match set_and_wait(&url, id, json!({ key: "on" })).await {
            SetOutcome::Converged { reported, .. } => {
                assert_eq!(reported.get(key), Some(&json!(true)), "{id}")
            }
            other => panic!("{id}: {other:?}"),
        }
        assert!(emu.log().switch_on, "{id} was switched on");
    }
    assert!(
        plug.log()
            .commands
            .contains(&("cmnd/tasmota_plug/POWER".into(), "ON".into()))
    );
    assert!(
        pico.log()
            .commands
            .iter()
            .any(|(t, p)| t == "sensors/pico-1/cmd" && p.contains("\"relay\":true"))
    );
    assert!(
        kitchen
            .log()
            .commands
            .contains(&("kitchen/switch/fan/command".into(), "ON".into()))
    );
    assert!(
        greenhouse
            .log()
            .commands
            .contains(&("homie/greenhouse/relay/on/set".into(), "true".into()))
    );
    // A refused update says why.
    match set_and_wait(&url, "nobody", json!({"power": true})).await {
        SetOutcome::Rejected { code, .. } => assert_eq!(code, 404),
        other => panic!("{other:?}"),
    }

    // Broken payloads on each device's topics: counted, and the mirror keeps going.
    let junk = junk_client(&url).await;
    for (topic, payload) in [
        ("tele/tasmota_plug/SENSOR", vec![0xff, 0x00, 0xfe, 0x13]),
        (
            "sensors/pico-1/telemetry",
            br#"{"device_id":"pico-1","temperature":"warm"}"#.to_vec(),
        ),
        (
            "kitchen/sensor/kitchen_temperature/state",
            vec![b'9'; 1024 * 1024],
        ),
    ] {
        junk.publish(topic, QoS::AtLeastOnce, false, payload)
            .await
            .expect("queued");
    }
    for id in ["plug", "pico-1", "kitchen"] {
        m.note(&[&format!("{id}: malformed payload")]).await;
    }

    // Killing the plug's session fires its last will: its twin goes offline.
    // Let a few more SENSOR messages go out (and so reach the mirror) before the kill.
    let before = plug.log().published;
    assert!(plug.wait_for(WAIT, |l| l.published >= before + 3).await);
    plug.kill();
    m.note(&["plug: offline"]).await;
    // Readings keep flowing from the others after all that.
    let before = pico.log().published;
    assert!(pico.wait_for(WAIT, |l| l.published >= before + 3).await);
    let r = m.stop().await;

    let p = device(&r, "plug");
    assert!(!p.online);
    assert_eq!(p.readings["temperature"].last, 21.5);
    assert_eq!(p.readings["humidity"].last, 45.0);
    assert_eq!(p.shadow.reported.get("power"), Some(&json!(true)));
    assert!(p.shadow.delta.is_empty());
    assert_eq!(p.malformed, 1);
    assert!(
        r.alerts
            .iter()
            .any(|a| a.device == "plug" && a.kind == "offline")
    );

    let j = device(&r, "pico-1");
    assert!(j.online);
    assert_eq!(j.readings["temperature"].last, 20.25);
    assert_eq!(j.shadow.reported.get("relay"), Some(&json!(true)));
    assert_eq!(j.malformed, 1);
    assert_eq!(j.lost, 0, "the sensor's seq has no gaps");
    let twin = j.twin.as_ref().expect("pico-1 has a twin");
    assert!(twin.heater_on, "the plug heats pico-1's room");

    let k = device(&r, "kitchen");
    assert!(k.online);
    assert_eq!(k.readings["temperature"].last, 22.4);
    assert_eq!(k.shadow.reported.get("fan"), Some(&json!(true)));
    assert_eq!(k.malformed, 1);
    assert!(
        k.last_malformed
            .as_deref()
            .is_some_and(|s| s.contains("over the 65536-byte limit"))
    );

    let g = device(&r, "greenhouse");
    assert!(g.online);
    assert_eq!(g.readings["temperature"].last, 18.75);
    assert_eq!(g.shadow.reported.get("relay"), Some(&json!(true)));
    assert_eq!(g.malformed, 0);

    assert_eq!(
        (r.devices.total, r.devices.seen, r.devices.online),
        (4, 4, 3)
    );
    assert_eq!(r.messages.malformed, 3);
    assert_eq!(r.commands_sent, 4);
    assert!(
        r.alerts.iter().all(|a| a.kind != "divergence"),
        "{:?}",
        r.alerts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sensor_drifting_from_its_twin_raises_a_divergence_alert() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    // True to its twin (21 °C in a room that changes by millikelvins here) for 2 s,
    // then drifting away at 2 °C a second.
    let drift: Curve = Arc::new(|t: f64| {
        if t < 2.0 {
            21.0
        } else {
            21.0 + 2.0 * (t - 2.0)
        }
    });
    let sensor = emulator::json_sensor(&url, "pico-1", Duration::from_millis(100), drift);
    let plug = emulator::tasmota_plug(&url, "tasmota_plug", PERIOD, constant(21.5));
    let mut m = Running::start(&config(&url), &url);
    let note = m
        .note(&["pico-1: temperature disagrees with its twin"])
        .await;
    let r = m.stop().await;
    drop((sensor, plug));
    let a = r
        .alerts
        .iter()
        .find(|a| a.kind == "divergence")
        .unwrap_or_else(|| panic!("no divergence alert: {:?} ({note})", r.alerts));
    assert_eq!(
        (a.device.as_str(), a.sensor.as_deref()),
        ("pico-1", Some("temperature"))
    );
    assert!(a.value > 1.0, "residual at the alert: {}", a.value);
    let twin = device(&r, "pico-1").twin.clone().expect("twin");
    assert!(twin.max_abs_residual > 1.0, "{twin:?}");
    let predicted = twin.predicted.expect("prediction");
    assert!(
        (predicted - 21.0).abs() < 0.1,
        "the twin stays near 21 °C: {predicted}"
    );
    // The healthy devices raised nothing of the kind.
    assert!(
        r.alerts
            .iter()
            .filter(|a| a.kind == "divergence")
            .all(|a| a.device == "pico-1")
    );
}
