//! Home Assistant MQTT discovery against a real Mosquitto, end to end: an emulated plug
//! announces itself (retained, abbreviated configs with a `~` base topic), discovery
//! writes a config for it, and the mirror runs on that config as it was printed.
//! Readings reach the twin, `power=on` converges through the switch's command topic,
//! junk on the shared state topic is counted, and killing the plug takes it offline by
//! its availability topic's last will.

use crate::mirror::{PERIOD, Running, WAIT, constant, device, set_and_wait};
use hw_bridge::config::{AdapterConfig, HaComponent};
use hw_bridge::emulator;
use hw_bridge::set::SetOutcome;
use hw_bridge::{MirrorConfig, discover};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use sim_core::test_support::Mosquitto;
use sim_core::transport::endpoint::{Endpoint, Security};
use std::time::Duration;

/// Publish at QoS 1 and wait for the broker's PUBACK: once it is in, the broker has
/// queued the message for the mirror ahead of anything published after.
async fn publish_acked(url: &str, topic: &str, payload: &[u8]) {
    let scenarios::BrokerUrl { host, port, .. } = scenarios::BrokerUrl::parse(url).expect("url");
    let (client, mut eventloop) = AsyncClient::new(MqttOptions::new("ha-junk", host, port), 16);
    client
        .publish(topic, QoS::AtLeastOnce, false, payload.to_vec())
        .await
        .expect("queued");
    let acked = tokio::time::timeout(WAIT, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => return,
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert!(acked.is_ok(), "no PUBACK for {topic} within {WAIT:?}");
    let _ = client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_found_by_home_assistant_discovery_is_mirrored() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    let plug = emulator::homeassistant_device(&url, "kitchen-plug", PERIOD, constant(21.5));
    // Once it has published its state, its retained discovery is on the broker.
    assert!(plug.wait_for(WAIT, |l| l.published >= 1).await);

    let ep = Endpoint::new(&url, &Security::default()).expect("endpoint");
    let seen = tokio::time::timeout(
        WAIT,
        discover::listen(&ep, &url, Duration::from_millis(1500)),
    )
    .await
    .expect("discovery ends")
    .expect("discovery ran");
    let text = discover::starter_config(&seen, "home", Some(&url));
    let cfg =
        MirrorConfig::parse(&text, "discovered.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        cfg.devices.len(),
        1,
        "one device, not its JSON state again:\n{text}"
    );
    let AdapterConfig::HomeAssistant(ha) = &cfg.devices[0].adapter else {
        panic!("{text}")
    };
    assert_eq!(cfg.devices[0].id, "kitchen-plug");
    assert_eq!(
        ha.availability_topic.as_deref(),
        Some("kitchen-plug/status")
    );
    let entities: Vec<(&str, HaComponent, Option<&str>)> = ha
        .entities
        .iter()
        .map(|e| (e.name.as_str(), e.component, e.command_topic.as_deref()))
        .collect();
    assert_eq!(
        entities,
        vec![
            ("humidity", HaComponent::Sensor, None),
            ("temperature", HaComponent::Sensor, None),
            ("power", HaComponent::Switch, Some("kitchen-plug/relay/set")),
        ],
        "{text}"
    );

    // The printed config as it is, with a twin bound to the plug, heated by its own
    // switch.
    let with_twin = format!(
        "{text}\n[device.twin]\nreading = \"temperature\"\nheater = \"kitchen-plug.power\"\n"
    );
    let cfg = MirrorConfig::parse(&with_twin, "mirror.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut m = Running::start(&cfg, &url);
    m.note(&["kitchen-plug: online"]).await;
    m.note(&["kitchen-plug: reported power = false"]).await;
    let before = plug.log().published;
    assert!(plug.wait_for(WAIT, |l| l.published >= before + 3).await);

    match set_and_wait(&url, "kitchen-plug", json!({"power": "on"})).await {
        SetOutcome::Converged { reported, .. } => {
            assert_eq!(reported.get("power"), Some(&json!(true)))
        }
        other => panic!("{other:?}"),
    }
    assert!(plug.log().switch_on, "the plug was switched on");
    assert!(
        plug.log()
            .commands
            .contains(&("kitchen-plug/relay/set".into(), "ON".into())),
        "{:?}",
        plug.log().commands
    );

    // Junk, then a value of the wrong type, on the state topic the entities share.
    publish_acked(&url, "kitchen-plug/state", &[0xff, 0x00, 0xfe]).await;
    m.note(&["kitchen-plug: malformed payload"]).await;
    publish_acked(&url, "kitchen-plug/state", br#"{"temperature":"warm"}"#).await;

    // Killed: the broker publishes its last will on the availability topic.
    let before = plug.log().published;
    assert!(plug.wait_for(WAIT, |l| l.published >= before + 2).await);
    plug.kill();
    let note = m.note(&["kitchen-plug: offline"]).await;
    assert!(note.contains("last will"), "{note}");
    let r = m.stop().await;

    let d = device(&r, "kitchen-plug");
    assert_eq!(d.adapter, "homeassistant");
    assert!(!d.online);
    let t = d.readings["temperature"];
    assert_eq!((t.min, t.max), (21.5, 21.5));
    assert!(t.count >= 5, "{t:?}");
    // `{{ value_json['humidity'] | float | round(1) }}` of 45.04.
    assert_eq!(d.readings["humidity"].last, 45.0);
    assert_eq!(d.shadow.reported.get("power"), Some(&json!(true)));
    assert!(d.shadow.delta.is_empty());
    assert_eq!(d.malformed, 2);
    let twin = d.twin.as_ref().expect("a twin");
    assert!(twin.heater_on, "{twin:?}");
    assert!(
        twin.predicted.is_some_and(|p| (p - 21.5).abs() < 0.5),
        "{twin:?}"
    );
    assert!(!twin.diverging);
    assert_eq!(r.commands_sent, 1);
    assert_eq!(r.messages.malformed, 2);
    assert!(
        r.alerts
            .iter()
            .any(|a| a.device == "kitchen-plug" && a.kind == "offline"),
        "{:?}",
        r.alerts
    );
}

const HA_FLEET: &str = r#"
[scenario]
name = "ha-twins"
duration = "1h"
tick = "100ms"
speed = 1

[[environment]]
name = "lab"

[[models]]
name = "pump"
publish_every = "1s"
[models.state]
mode = { values = ["stopped", "running"], initial = "running" }
[models.commands]
stop = { mode = "stopped" }
[models.readings]
flow = { expr = 'if(mode == "running", 40.0, 0.0)', unit = "m3/h" }

[[devices]]
id = "dht-{n}"
count = 2
model = "dht22"
environment = "lab"
publish_every = "2s"
convention = "homeassistant"

[[devices]]
id = "lamp"
model = "relay"
publish_every = "1s"
convention = "homeassistant"

[[devices]]
id = "pump-1"
model = "pump"
convention = "homeassistant"

[[devices]]
id = "plain-1"
model = "dht22"
environment = "lab"
"#;

/// The retained messages on `url` under `filter`, after `quiet` without a new one.
async fn retained(url: &str, filter: &str) -> Vec<(String, Vec<u8>)> {
    let scenarios::BrokerUrl { host, port, .. } = scenarios::BrokerUrl::parse(url).expect("url");
    let (client, mut el) = AsyncClient::new(MqttOptions::new("ha-retained", host, port), 16);
    client
        .subscribe(filter, QoS::AtMostOnce)
        .await
        .expect("queued");
    let mut out = Vec::new();
    while let Ok(Ok(e)) = tokio::time::timeout(Duration::from_millis(700), el.poll()).await {
        if let Event::Incoming(Packet::Publish(p)) = e
            && p.retain
        {
            out.push((p.topic.clone(), p.payload.to_vec()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twins_with_the_homeassistant_convention_are_discovered_commanded_and_cleared() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    let s = scenarios::parse(HA_FLEET, "ha.toml").unwrap_or_else(|e| panic!("{e}"));
    let announce = hw_bridge::adapter::homeassistant::announce::announcements(&s);
    let configs = announce.retained.len();
    // 2 DHT22s × 2 sensors, a relay's switch, the pump's sensor, select and button;
    // nothing for the group without the convention.
    assert_eq!(configs, 8);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let opts = sim_core::run::RunOptions {
        broker_url: Some(url.clone()),
        announce,
        ..Default::default()
    };
    let (tx, _rx) = tokio::sync::watch::channel(sim_core::run::Progress::default());
    let run = tokio::spawn({
        let (s, stop) = (s.clone(), stop.clone());
        async move { sim_core::run::run(&s, opts, tx, stop).await }
    });

    // Discovery finds every twin of the convention, as Home Assistant devices.
    let ep = Endpoint::new(&url, &Security::default()).expect("endpoint");
    let mut cfg = None;
    for _ in 0..10 {
        let seen = discover::listen(&ep, &url, Duration::from_millis(2500))
            .await
            .expect("discovery ran");
        let text = discover::starter_config(&seen, "home", Some(&url));
        let c =
            MirrorConfig::parse(&text, "discovered.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        if c.devices.len() >= 5 {
            cfg = Some((c, text));
            break;
        }
    }
    let (cfg, text) = cfg.expect("the twins were discovered");
    let found: Vec<(&str, bool)> = cfg
        .devices
        .iter()
        .map(|d| {
            (
                d.id.as_str(),
                matches!(d.adapter, AdapterConfig::HomeAssistant(_)),
            )
        })
        .collect();
    // The twin without the convention is found too, by its plain JSON.
    let want = [
        ("dht-1", true),
        ("dht-2", true),
        ("lamp", true),
        ("pump-1", true),
        ("plain-1", false),
    ];
    assert_eq!(found, want, "{text}");

    // The mirror reads them, and switches the lamp with the switch's own payload.
    let mut m = Running::start(&cfg, &url);
    m.note(&["lamp: online"]).await;
    match set_and_wait(&url, "lamp", json!({"on": "on"})).await {
        SetOutcome::Converged { reported, .. } => {
            assert_eq!(reported.get("on"), Some(&json!(true)))
        }
        other => panic!("{other:?}"),
    }
    // The pump's select, through its command_template, in the twin's own JSON.
    match set_and_wait(&url, "pump-1", json!({"mode": "stopped"})).await {
        SetOutcome::Converged { reported, .. } => {
            assert_eq!(reported.get("mode"), Some(&json!("stopped")))
        }
        other => panic!("{other:?}"),
    }
    // Home Assistant restarts and forgets: its birth message has everything announced
    // again.
    publish_acked(
        &url,
        "homeassistant/sensor/twin_ha-twins_dht-1/temperature/config",
        b"",
    )
    .await;
    publish_acked(&url, "homeassistant/status", b"online").await;
    let back = tokio::time::timeout(WAIT, async {
        loop {
            let r = retained(
                &url,
                "homeassistant/sensor/twin_ha-twins_dht-1/temperature/config",
            )
            .await;
            if r.iter().any(|(_, p)| !p.is_empty()) {
                return;
            }
        }
    })
    .await;
    assert!(back.is_ok(), "announced again on Home Assistant's birth");
    // Telemetry of dht-1 and pump-1 seen twice by a watcher subscribed after the mirror
    // (which noted the lamp online long before): the mirror has had it too.
    let scenarios::BrokerUrl { host, port, .. } = scenarios::BrokerUrl::parse(&url).expect("url");
    let (watcher, mut el) = AsyncClient::new(MqttOptions::new("ha-watch", host, port), 16);
    watcher
        .subscribe("twin/ha-twins/+/telemetry", QoS::AtMostOnce)
        .await
        .expect("queued");
    let seen = tokio::time::timeout(WAIT, async {
        let (mut dht, mut pump) = (0, 0);
        while dht < 2 || pump < 2 {
            if let Ok(Event::Incoming(Packet::Publish(p))) = el.poll().await {
                dht += u32::from(p.topic.contains("/dht-1/"));
                pump += u32::from(p.topic.contains("/pump-1/"));
            }
        }
    })
    .await;
    assert!(seen.is_ok(), "the twins publish");
    let r = m.stop().await;
    let t = device(&r, "dht-1").readings["temperature"];
    assert!(t.count >= 1 && (10.0..30.0).contains(&t.last), "{t:?}");
    let flow = device(&r, "pump-1").readings["flow"];
    assert_eq!(flow.last, 0.0, "stopped by its select: {flow:?}");

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = tokio::time::timeout(WAIT, run)
        .await
        .expect("run ends")
        .expect("task")
        .expect("run");
    assert_eq!(
        report.sessions.commands_applied, 2,
        "the lamp's switch, the pump's select"
    );
    // The run leaves the broker as it found it: no config, no status (the mirror's own
    // shadows, under its fleet `home`, are the mirror's to keep).
    for filter in ["homeassistant/#", "twin/ha-twins/#"] {
        let left: Vec<String> = retained(&url, filter)
            .await
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert!(left.is_empty(), "{filter}: {left:?}");
    }
}
