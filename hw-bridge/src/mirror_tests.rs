use super::*;
use serde_json::json;

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
