use super::*;
use crate::config::MirrorConfig;
use crate::report::{MirrorReport, MirroredDevice};
use serde_json::Value;
use serde_json::json;
use sim_core::report::BrokerInfo;

/// Messages as they happen (not retained).
trait Live {
    fn handle_live(&mut self, topic: &str, payload: &[u8], now: f64) -> Vec<Publish>;
}

impl Live for Mirror {
    fn handle_live(&mut self, topic: &str, payload: &[u8], now: f64) -> Vec<Publish> {
        self.handle(topic, payload, false, now)
    }
}

const CONFIG: &str = r#"
[mirror]
fleet = "home"
stale_after = "30s"
confirm_timeout = "5s"
max_payload = 1024

[[device]]
id = "plug"
adapter = "tasmota"
topic = "tasmota_plug"

[[device]]
id = "pico-1"
adapter = "json"
topic = "sensors/temperature"
id_pointer = "/device_id"
status_topic = "sensors/pico-1/status"
command_topic = "sensors/pico-1/cmd"
readings = { temperature = "/temperature", humidity = "/humidity" }
state = { relay = "/relay" }
model = "dht22"
[device.twin]
heater = "plug.power"
heater_kw = 2.0
outdoor = 10.0
tolerance = 1.0

[[device]]
id = "pico-2"
adapter = "json"
topic = "sensors/temperature"
id_pointer = "/device_id"
"#;

fn mirror() -> Mirror {
    let cfg = MirrorConfig::parse(CONFIG, "m.toml").expect("valid config");
    Mirror::new(&cfg, 1000.0)
}

fn sensor(m: &mut Mirror, t: f64, value: f64) -> Vec<Publish> {
    let p = json!({"device_id": "pico-1", "temperature": value, "humidity": 40.0});
    m.handle_live("sensors/temperature", p.to_string().as_bytes(), 1000.0 + t)
}

fn update(m: &mut Mirror, device: &str, body: Value, t: f64) -> Vec<Publish> {
    m.handle_live(
        &format!("twin/home/{device}/shadow/update"),
        body.to_string().as_bytes(),
        1000.0 + t,
    )
}

fn dev<'a>(r: &'a MirrorReport, id: &str) -> &'a MirroredDevice {
    r.per_device
        .iter()
        .find(|d| d.id == id)
        .expect("device in report")
}

fn report(m: &Mirror, t: f64) -> MirrorReport {
    m.report(
        1000.0 + t,
        BrokerInfo {
            url: "mqtt://127.0.0.1:1".into(),
            embedded: false,
        },
        false,
    )
}

#[test]
fn subscriptions_cover_every_device_and_the_shadow_topic() {
    let m = mirror();
    assert_eq!(
        m.subscriptions(),
        vec![
            "sensors/pico-1/status",
            "sensors/temperature",
            "stat/tasmota_plug/+",
            "tele/tasmota_plug/+",
            "twin/home/+/shadow/update",
        ]
    );
}

#[test]
fn readings_reach_their_device_and_not_its_neighbour() {
    let mut m = mirror();
    sensor(&mut m, 1.0, 21.0);
    sensor(&mut m, 2.0, 21.4);
    m.handle_live(
        "sensors/temperature",
        br#"{"device_id":"pico-2","temperature":18.0}"#,
        1003.0,
    );
    let r = report(&m, 3.0);
    let p1 = dev(&r, "pico-1");
    assert_eq!(p1.received, 2);
    assert!(p1.online);
    let t = p1.readings["temperature"];
    assert_eq!((t.min, t.max, t.last, t.count), (21.0, 21.4, 21.4, 2));
    assert_eq!(dev(&r, "pico-2").readings["temperature"].last, 18.0);
    assert_eq!(r.devices.seen, 2);
    assert_eq!(r.messages.received, 3);
}

#[test]
fn desired_power_becomes_a_tasmota_command_and_converges() {
    let mut m = mirror();
    m.handle_live("tele/tasmota_plug/LWT", b"Online", 1000.5);
    let out = update(
        &mut m,
        "plug",
        json!({"state": {"desired": {"power": "on"}}, "client_token": "t1"}),
        1.0,
    );
    let topics: Vec<&str> = out.iter().map(|p| p.topic.as_str()).collect();
    assert_eq!(
        topics,
        vec![
            "twin/home/plug/shadow/update/accepted",
            "cmnd/tasmota_plug/POWER",
            "twin/home/plug/shadow"
        ]
    );
    assert_eq!(out[1].payload, b"ON");
    let accepted: Value = serde_json::from_slice(&out[0].payload).expect("json");
    assert_eq!(accepted["version"], json!(1));
    assert_eq!(accepted["client_token"], json!("t1"));
    assert_eq!(
        dev(&report(&m, 1.0), "plug").shadow.delta,
        json!({"power": true}).as_object().cloned().expect("obj")
    );
    // The plug answers; the delta clears and the new document is published, retained.
    let out = m.handle_live("stat/tasmota_plug/POWER", b"ON", 1001.2);
    assert_eq!(out.len(), 1);
    assert!(out[0].retain);
    let doc: Value = serde_json::from_slice(&out[0].payload).expect("json");
    assert_eq!(doc["state"]["reported"], json!({"power": true}));
    assert_eq!(doc["state"]["delta"], json!({}));
    assert_eq!(doc["version"], json!(2));
    // Confirmed in time: no alert once the deadline passes.
    m.tick(1010.0);
    assert!(
        report(&m, 10.0)
            .alerts
            .iter()
            .all(|a| a.kind != "unconfirmed")
    );
    assert_eq!(report(&m, 10.0).commands_sent, 1);
}

#[test]
fn updates_are_checked() {
    let mut m = mirror();
    let code = |out: &[Publish]| -> (String, u64) {
        let v: Value = serde_json::from_slice(&out[0].payload).expect("json");
        (out[0].topic.clone(), v["code"].as_u64().unwrap_or(0))
    };
    let out = update(
        &mut m,
        "nobody",
        json!({"state": {"desired": {"power": true}}}),
        1.0,
    );
    assert_eq!(
        code(&out),
        ("twin/home/nobody/shadow/update/rejected".into(), 404)
    );
    let out = update(
        &mut m,
        "pico-2",
        json!({"state": {"desired": {"relay": true}}}),
        1.0,
    );
    assert_eq!(code(&out).1, 400, "pico-2 has no command topic");
    let out = update(&mut m, "plug", json!({"desired": {"power": true}}), 1.0);
    assert_eq!(code(&out).1, 400);
    update(
        &mut m,
        "plug",
        json!({"state": {"desired": {"power": true}}, "version": 0}),
        1.0,
    );
    let out = update(
        &mut m,
        "plug",
        json!({"state": {"desired": {"power": false}}, "version": 0}),
        2.0,
    );
    assert_eq!(
        code(&out),
        ("twin/home/plug/shadow/update/rejected".into(), 409)
    );
    assert_eq!(
        dev(&report(&m, 2.0), "plug").shadow.desired["power"],
        json!(true)
    );
}

#[test]
fn an_unconfirmed_desire_raises_an_alert_and_is_resent_when_the_device_returns() {
    let mut m = mirror();
    m.handle_live("tele/tasmota_plug/LWT", b"Online", 1000.0);
    update(
        &mut m,
        "plug",
        json!({"state": {"desired": {"power": true}}}),
        1.0,
    );
    m.tick(1005.9);
    assert!(
        report(&m, 6.0)
            .alerts
            .iter()
            .all(|a| a.kind != "unconfirmed")
    );
    m.tick(1006.0);
    let r = report(&m, 6.0);
    let a = r
        .alerts
        .iter()
        .find(|a| a.kind == "unconfirmed")
        .expect("alert");
    assert_eq!(
        (a.device.as_str(), a.sensor.as_deref()),
        ("plug", Some("power"))
    );
    // The plug's last will fires; when it comes back the command goes out again.
    m.handle_live("tele/tasmota_plug/LWT", b"Offline", 1007.0);
    let r = report(&m, 7.0);
    assert!(!dev(&r, "plug").online);
    assert!(
        r.alerts
            .iter()
            .any(|a| a.kind == "offline" && a.device == "plug" && a.end.is_none())
    );
    let out = m.handle_live("tele/tasmota_plug/LWT", b"Online", 1008.0);
    assert!(
        out.iter()
            .any(|p| p.topic == "cmnd/tasmota_plug/POWER" && p.payload == b"ON")
    );
    let r = report(&m, 8.0);
    assert!(dev(&r, "plug").online);
    assert!(
        r.alerts
            .iter()
            .any(|a| a.kind == "offline" && a.end == Some(8.0))
    );
}

#[test]
fn a_silent_device_goes_offline() {
    let mut m = mirror();
    sensor(&mut m, 1.0, 21.0);
    assert!(
        m.tick(1031.0).is_empty(),
        "30 s is not yet past stale_after"
    );
    let out = m.tick(1031.5);
    assert_eq!(out.len(), 1);
    let doc: Value = serde_json::from_slice(&out[0].payload).expect("json");
    assert_eq!(doc["online"], json!(false));
    let r = report(&m, 31.5);
    assert!(!dev(&r, "pico-1").online);
    assert!(
        r.alerts
            .iter()
            .any(|a| a.kind == "offline" && a.device == "pico-1")
    );
    sensor(&mut m, 32.0, 21.0);
    assert!(dev(&report(&m, 32.0), "pico-1").online);
}

#[test]
fn the_twin_follows_the_heater_and_flags_a_drifting_sensor() {
    let mut m = mirror();
    // The plug heats pico-1's room: the twin predicts warming, the sensor agrees.
    m.handle_live("stat/tasmota_plug/POWER", b"ON", 1000.0);
    let mut t = 0.0;
    let mut temp = 20.0;
    for _ in 0..40 {
        sensor(&mut m, t, temp);
        t += 60.0;
        // Heated, the room settles toward 10 + 4·2 = 18 °C; the sensor follows the twin.
        temp = dev(&report(&m, t), "pico-1")
            .twin
            .as_ref()
            .and_then(|tw| tw.predicted)
            .unwrap_or(temp);
        m.handle_live("stat/tasmota_plug/POWER", b"ON", 1000.0 + t);
        let p = dev(&report(&m, t), "pico-1").twin.clone().expect("twin");
        assert!(p.heater_on);
    }
    let r = report(&m, t);
    assert!(
        r.alerts.iter().all(|a| a.kind != "divergence"),
        "{:?}",
        r.alerts
    );
    // Now the sensor walks away from the prediction, 0.3 °C per reading.
    for k in 1..=30 {
        let predicted = dev(&report(&m, t), "pico-1")
            .twin
            .as_ref()
            .and_then(|tw| tw.predicted)
            .unwrap_or(20.0);
        sensor(&mut m, t, predicted + 0.3 * k as f64);
        t += 60.0;
    }
    let r = report(&m, t);
    let div = r
        .alerts
        .iter()
        .find(|a| a.kind == "divergence")
        .expect("divergence alert");
    assert_eq!(
        (div.device.as_str(), div.sensor.as_deref()),
        ("pico-1", Some("temperature"))
    );
    assert!(div.value > 1.0, "{div:?}");
    assert!(
        r.alerts
            .iter()
            .any(|a| a.kind == "drift" && a.device == "pico-1"),
        "{:?}",
        r.alerts
    );
    let tw = dev(&r, "pico-1").twin.clone().expect("twin");
    assert!(tw.diverging && tw.max_abs_residual > 8.0, "{tw:?}");
}

#[test]
fn malformed_payloads_are_counted_never_fatal() {
    let mut m = mirror();
    let huge = vec![b'{'; 4096];
    for (topic, payload) in [
        ("tele/tasmota_plug/SENSOR", &b"\x00\xff\xfe junk"[..]),
        (
            "tele/tasmota_plug/SENSOR",
            br#"{"AM2301":{"Temperature":"hot"}}"#,
        ),
        ("tele/tasmota_plug/SENSOR", &huge[..]),
        ("tele/tasmota_plug/LWT", b"perhaps"),
        ("sensors/pico-1/status", b"\x01\x02"),
    ] {
        m.handle_live(topic, payload, 1001.0);
    }
    // Junk on the topic pico-1 and pico-2 share cannot be pinned on either.
    m.handle_live("sensors/temperature", b"\x00\x00", 1001.0);
    // A wrong type from a known device is that device's.
    m.handle_live(
        "sensors/temperature",
        br#"{"device_id":"pico-1","temperature":"21"}"#,
        1001.0,
    );
    sensor(&mut m, 2.0, 21.0);
    let r = report(&m, 2.0);
    assert_eq!(dev(&r, "plug").malformed, 4);
    assert_eq!(dev(&r, "pico-1").malformed, 2);
    assert_eq!(dev(&r, "pico-1").received, 1);
    assert!(
        dev(&r, "plug")
            .last_malformed
            .as_deref()
            .is_some_and(|s| s.contains("LWT"))
    );
    assert_eq!(r.unattributed_malformed, 1);
    assert_eq!(r.messages.malformed, 7);
}

#[test]
fn sequence_gaps_count_as_lost() {
    let mut m = mirror();
    for seq in [0u64, 1, 2, 5, 6, 0, 1] {
        let p = json!({"device_id": "pico-2", "seq": seq, "temperature": 20.0});
        m.handle_live("sensors/temperature", p.to_string().as_bytes(), 1001.0);
    }
    let r = report(&m, 1.0);
    assert_eq!(
        dev(&r, "pico-2").lost,
        2,
        "3 and 4 never came; the drop to 0 is a restart"
    );
    assert_eq!(r.messages.lost, 2);
    assert_eq!(r.messages.sent, 9);
}

#[test]
fn retained_values_do_not_bring_a_lost_device_back() {
    let mut m = mirror();
    // At start the broker hands over what it kept: the plug's will fired, and an old
    // POWER answer is still retained. The plug stays offline.
    m.handle("tele/tasmota_plug/LWT", b"Offline", true, 1000.0);
    m.handle("stat/tasmota_plug/POWER", b"ON", true, 1000.0);
    let r = report(&m, 0.0);
    let p = dev(&r, "plug");
    assert!(!p.online);
    assert_eq!(p.last_seen, None);
    assert_eq!(
        p.shadow.reported.get("power"),
        Some(&json!(true)),
        "the value still counts"
    );
    // A retained announcement that it is online does count.
    m.handle("tele/tasmota_plug/LWT", b"Online", true, 1001.0);
    assert!(dev(&report(&m, 1.0), "plug").online);
}

/// Sparkplug B through the whole mirror: an edge node and one of its devices, born,
/// read by alias, commanded, with a gap in the node's seq, junk, a stale NDEATH and the
/// real one.
#[test]
fn a_sparkplug_node_and_its_device_are_mirrored() {
    use crate::adapter::sparkplug::proto::{Metric, MetricValue, Payload, datatype};
    use prost::Message as _;
    let cfg = MirrorConfig::parse(
        r#"
[mirror]
fleet = "home"

[[device]]
id = "gw-1"
adapter = "sparkplug"
group = "plant"
edge_node = "gw-1"

[[device]]
id = "press-3"
adapter = "sparkplug"
group = "plant"
edge_node = "gw-1"
device = "press-3"
"#,
        "m.toml",
    )
    .expect("valid config");
    let mut m = Mirror::new(&cfg, 1000.0);
    assert_eq!(
        m.subscriptions(),
        vec![
            "spBv1.0/plant/+/gw-1",
            "spBv1.0/plant/+/gw-1/+",
            "twin/home/+/shadow/update"
        ]
    );
    let metric = |name: Option<&str>, alias: u64, dt: Option<u32>, v: MetricValue| Metric {
        name: name.map(str::to_string),
        alias: Some(alias),
        datatype: dt,
        value: Some(v),
        ..Metric::default()
    };
    let msg = |seq: Option<u64>, metrics: Vec<Metric>| {
        Payload {
            timestamp: Some(1),
            metrics,
            seq,
        }
        .encode_to_vec()
    };
    let bd_seq = |n: u64| {
        metric(
            Some("bdSeq"),
            0,
            Some(datatype::UINT64),
            MetricValue::Long(n),
        )
    };
    let temperature = |seq: u64, v: f64| {
        msg(
            Some(seq),
            vec![metric(None, 2, None, MetricValue::Double(v))],
        )
    };

    m.handle_live(
        "spBv1.0/plant/NBIRTH/gw-1",
        &msg(Some(0), vec![bd_seq(4)]),
        1001.0,
    );
    let dbirth = msg(
        Some(1),
        vec![
            metric(
                Some("Temperature"),
                2,
                Some(datatype::DOUBLE),
                MetricValue::Double(21.0),
            ),
            metric(
                Some("Running"),
                3,
                Some(datatype::BOOLEAN),
                MetricValue::Boolean(true),
            ),
        ],
    );
    m.handle_live("spBv1.0/plant/DBIRTH/gw-1/press-3", &dbirth, 1001.0);
    m.handle_live(
        "spBv1.0/plant/DDATA/gw-1/press-3",
        &temperature(2, 21.5),
        1002.0,
    );
    let notes = m.take_notes();
    assert!(notes.contains(&"gw-1: online".to_string()), "{notes:?}");
    assert!(notes.contains(&"press-3: online".to_string()), "{notes:?}");

    // running=off becomes a DCMD with the BIRTH's alias; the DDATA answer confirms it.
    let out = update(
        &mut m,
        "press-3",
        json!({"state": {"desired": {"running": "off"}}}),
        3.0,
    );
    assert_eq!(out[1].topic, "spBv1.0/plant/DCMD/gw-1/press-3");
    let cmd = Payload::decode(out[1].payload.as_slice()).expect("protobuf");
    assert_eq!(
        (
            cmd.metrics[0].name.as_deref(),
            cmd.metrics[0].alias,
            &cmd.metrics[0].value
        ),
        (Some("Running"), Some(3), &Some(MetricValue::Boolean(false)))
    );
    let answer = msg(
        Some(3),
        vec![metric(None, 3, None, MetricValue::Boolean(false))],
    );
    m.handle_live("spBv1.0/plant/DDATA/gw-1/press-3", &answer, 1003.5);
    // The DCMD comes back to the mirror too: not a message from the device.
    m.handle_live(&out[1].topic, &out[1].payload, 1003.5);

    // seq 4 and 5 never arrive.
    m.handle_live(
        "spBv1.0/plant/DDATA/gw-1/press-3",
        &temperature(6, 22.0),
        1004.0,
    );
    // Junk on the device's topic is the device's; junk on NDEATH is both of theirs.
    m.handle_live("spBv1.0/plant/DDATA/gw-1/press-3", b"\xff\xff\xff", 1004.0);
    m.handle_live("spBv1.0/plant/NDEATH/gw-1", b"\xff\xff\xff", 1004.0);
    // An NDEATH of the session before changes nothing; the current one takes both down.
    m.handle_live(
        "spBv1.0/plant/NDEATH/gw-1",
        &msg(None, vec![bd_seq(3)]),
        1005.0,
    );
    let r = report(&m, 5.0);
    assert!(dev(&r, "gw-1").online && dev(&r, "press-3").online);
    m.handle_live(
        "spBv1.0/plant/NDEATH/gw-1",
        &msg(None, vec![bd_seq(4)]),
        1006.0,
    );

    let r = report(&m, 6.0);
    let p = dev(&r, "press-3");
    assert!(!p.online);
    assert_eq!(p.adapter, "sparkplug");
    assert_eq!(p.readings["temperature"].last, 22.0);
    assert_eq!(p.readings["temperature"].count, 3);
    assert_eq!(p.shadow.reported.get("running"), Some(&json!(false)));
    assert!(p.shadow.delta.is_empty());
    assert_eq!((p.lost, p.malformed), (2, 1));
    // The DBIRTH, two DDATA readings, the answer and the NDEATH.
    assert_eq!(p.received, 5);
    let g = dev(&r, "gw-1");
    assert!(!g.online);
    assert_eq!((g.lost, g.malformed, g.received), (0, 0, 2));
    assert_eq!(r.unattributed_malformed, 1);
    assert_eq!((r.messages.lost, r.messages.malformed), (2, 2));
    assert_eq!(r.alerts.iter().filter(|a| a.kind == "offline").count(), 2);
    assert_eq!(r.commands_sent, 1);
}

/// A device from Home Assistant discovery through the whole mirror: entities sharing a
/// JSON state topic, a number and a switch commanded and confirmed, junk, and the
/// availability topic's last will.
#[test]
fn a_home_assistant_device_is_mirrored() {
    let cfg = MirrorConfig::parse(
        r#"
[mirror]
fleet = "home"
confirm_timeout = "5s"

[[device]]
id = "kitchen-plug"
adapter = "homeassistant"
availability_topic = "kitchen-plug/status"
entities = [
  { name = "temperature", component = "sensor", state_topic = "kitchen-plug/state", value_template = "{{ value_json.temperature }}" },
  { name = "power", component = "switch", state_topic = "kitchen-plug/state", command_topic = "kitchen-plug/relay/set", value_template = "{{ value_json.power }}" },
  { name = "target", component = "number", state_topic = "kitchen-plug/target", command_topic = "kitchen-plug/target/set" },
]
[device.twin]
heater = "kitchen-plug.power"
"#,
        "m.toml",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut m = Mirror::new(&cfg, 1000.0);
    assert_eq!(
        m.subscriptions(),
        vec![
            "kitchen-plug/state",
            "kitchen-plug/status",
            "kitchen-plug/target",
            "twin/home/+/shadow/update"
        ]
    );
    m.handle("kitchen-plug/status", b"online", true, 1000.0);
    m.handle_live(
        "kitchen-plug/state",
        br#"{"temperature":21.5,"power":"OFF"}"#,
        1001.0,
    );
    let out = update(
        &mut m,
        "kitchen-plug",
        json!({"state": {"desired": {"power": "on", "target": 22}}}),
        2.0,
    );
    let sent: Vec<(&str, &[u8])> = out
        .iter()
        .filter(|p| !p.topic.starts_with("twin/"))
        .map(|p| (p.topic.as_str(), p.payload.as_slice()))
        .collect();
    assert_eq!(
        sent,
        vec![
            ("kitchen-plug/relay/set", &b"ON"[..]),
            ("kitchen-plug/target/set", &b"22"[..])
        ]
    );
    m.handle_live(
        "kitchen-plug/state",
        br#"{"temperature":21.6,"power":"ON"}"#,
        1002.5,
    );
    m.handle_live("kitchen-plug/target", b"22.0", 1002.6);
    // Junk and a value of the wrong type on the shared topic: counted on the device.
    m.handle_live("kitchen-plug/state", b"\xff\xfe", 1003.0);
    m.handle_live("kitchen-plug/state", br#"{"temperature":"warm"}"#, 1003.1);
    // A key the device cannot be commanded is refused.
    let out = update(
        &mut m,
        "kitchen-plug",
        json!({"state": {"desired": {"temperature": 30}}}),
        3.5,
    );
    assert_eq!(
        out[0].topic,
        "twin/home/kitchen-plug/shadow/update/rejected"
    );
    m.handle_live("kitchen-plug/status", b"offline", 1004.0);
    m.tick(1010.0);

    let r = report(&m, 10.0);
    let d = dev(&r, "kitchen-plug");
    assert_eq!(d.adapter, "homeassistant");
    assert!(!d.online);
    assert_eq!(d.readings["temperature"].last, 21.6);
    assert_eq!(d.readings["target"].last, 22.0);
    assert_eq!(
        d.shadow.reported,
        json!({"power": true, "target": 22.0})
            .as_object()
            .cloned()
            .expect("obj")
    );
    assert!(d.shadow.delta.is_empty(), "{:?}", d.shadow.delta);
    assert_eq!(d.malformed, 2);
    assert!(d.twin.as_ref().is_some_and(|t| t.heater_on));
    assert_eq!(r.commands_sent, 2);
    let kinds: Vec<&str> = r.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec!["offline"]);
}
