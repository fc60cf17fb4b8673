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
