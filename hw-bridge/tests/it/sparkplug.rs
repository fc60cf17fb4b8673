//! Sparkplug B against a real Mosquitto: an emulated edge node `gw-1` (group `plant`)
//! with its device `press-3`, mirrored by the real session. Readings reach the device's
//! twin, `running=false` converges through a DCMD, a gap made in the node's seq is
//! counted, junk is counted, a stale NDEATH changes nothing, and killing the node fires
//! its NDEATH, which takes the node and its device offline.

use crate::mirror::{PERIOD, Running, WAIT, constant, device, junk_client, set_and_wait};
use hw_bridge::MirrorConfig;
use hw_bridge::emulator;
use hw_bridge::set::SetOutcome;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::json;
use sim_core::test_support::Mosquitto;

fn config(url: &str) -> MirrorConfig {
    let text = format!(
        r#"
[mirror]
fleet = "home"
broker = "{url}"
stale_after = "30s"
confirm_timeout = "5s"

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
[device.twin]
reading = "temperature"
tolerance = 2.0
"#
    );
    MirrorConfig::parse(&text, "mirror.toml").expect("valid config")
}

/// Wait until the mirror's shadow documents reach the broker. The mirror queues its
/// subscriptions before them on the same connection, so from then on it hears the node.
async fn mirror_listening(url: &str) {
    let scenarios::BrokerUrl { host, port, .. } = scenarios::BrokerUrl::parse(url).expect("url");
    let (client, mut eventloop) = AsyncClient::new(MqttOptions::new("watch", host, port), 16);
    client
        .subscribe("twin/home/+/shadow", QoS::AtLeastOnce)
        .await
        .expect("queued");
    let seen = tokio::time::timeout(WAIT, async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(_))) => return,
                Ok(_) => {}
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert!(
        seen.is_ok(),
        "no shadow document from the mirror within {WAIT:?}"
    );
    let _ = client.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sparkplug_edge_node_and_its_device_are_mirrored() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    let mut m = Running::start(&config(&url), &url);
    // Sparkplug never retains a BIRTH: the mirror must be listening when the node is born.
    mirror_listening(&url).await;
    let node = emulator::sparkplug_node(&url, "plant", "gw-1", "press-3", PERIOD, constant(21.5));
    m.note(&["gw-1: online"]).await;
    m.note(&["press-3: online"]).await;
    m.note(&["press-3: reported running = true"]).await;
    // DDATA by alias only: readable because the DBIRTH was.
    let before = node.log().published;
    assert!(node.wait_for(WAIT, |l| l.published >= before + 3).await);

    match set_and_wait(&url, "press-3", json!({"running": "off"})).await {
        SetOutcome::Converged { reported, .. } => {
            assert_eq!(reported.get("running"), Some(&json!(false)))
        }
        other => panic!("{other:?}"),
    }
    assert!(!node.log().switch_on, "the press was stopped");
    assert!(
        node.log().commands.contains(&(
            "spBv1.0/plant/DCMD/gw-1/press-3".into(),
            "running=false".into()
        )),
        "{:?}",
        node.log().commands
    );

    // Three seq numbers skipped before the next DDATA, as if lost on the way.
    node.skip_seq(3);
    m.note(&["press-3: 3 messages lost"]).await;

    // An NDEATH from an older session (bdSeq 0; this one is 1) is ignored. Junk after it
    // on the device's topic is counted, and once it is, the NDEATH has been handled too:
    // one publisher's messages reach the mirror in order.
    let junk = junk_client(&url).await;
    junk.publish(
        "spBv1.0/plant/NDEATH/gw-1",
        QoS::AtLeastOnce,
        false,
        emulator::sparkplug_death(0),
    )
    .await
    .expect("queued");
    junk.publish(
        "spBv1.0/plant/DDATA/gw-1/press-3",
        QoS::AtLeastOnce,
        false,
        vec![0xff, 0xff, 0xff],
    )
    .await
    .expect("queued");
    m.note(&["press-3: malformed payload"]).await;
    assert!(
        !m.seen.iter().any(|n| n.contains("offline")),
        "a stale NDEATH took something offline: {:#?}",
        m.seen
    );

    // Killed: the broker publishes the node's NDEATH (its will), bdSeq 1.
    let before = node.log().published;
    assert!(node.wait_for(WAIT, |l| l.published >= before + 2).await);
    node.kill();
    m.note(&["gw-1: offline"]).await;
    m.note(&["press-3: offline"]).await;
    let r = m.stop().await;

    let p = device(&r, "press-3");
    assert_eq!(p.adapter, "sparkplug");
    assert!(!p.online);
    let t = p.readings["temperature"];
    assert_eq!((t.min, t.max), (21.5, 21.5));
    assert!(t.count >= 5, "{t:?}");
    assert_eq!(p.shadow.reported.get("running"), Some(&json!(false)));
    assert!(p.shadow.delta.is_empty());
    assert_eq!(p.lost, 3);
    assert_eq!(p.malformed, 1);
    let twin = p.twin.as_ref().expect("press-3 has a twin");
    assert!(
        twin.predicted.is_some_and(|x| (x - 21.5).abs() < 0.5),
        "{twin:?}"
    );
    assert!(!twin.diverging);

    let g = device(&r, "gw-1");
    assert!(!g.online);
    assert!(g.readings.contains_key("uptime"), "{:?}", g.readings);
    assert_eq!((g.lost, g.malformed), (0, 0));

    assert_eq!(r.messages.lost, 3);
    assert_eq!(r.messages.malformed, 1);
    assert_eq!(r.unattributed_malformed, 0);
    assert_eq!(r.commands_sent, 1);
    for id in ["gw-1", "press-3"] {
        assert!(
            r.alerts
                .iter()
                .any(|a| a.device == id && a.kind == "offline"),
            "{id}: {:?}",
            r.alerts
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_that_joins_late_asks_the_node_to_rebirth() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    // The node is born before anyone mirrors it: its BIRTHs are gone, its DATA carries
    // aliases only.
    let node = emulator::sparkplug_node(&url, "plant", "gw-1", "press-3", PERIOD, constant(19.0));
    assert!(node.wait_for(WAIT, |l| l.published >= 3).await);
    let mut m = Running::start(&config(&url), &url);
    m.note(&["sent spBv1.0/plant/NCMD/gw-1"]).await;
    // The node answers with new BIRTHs, and the aliases mean something again.
    m.note(&["press-3: reported running = true"]).await;
    let before = node.log().published;
    assert!(node.wait_for(WAIT, |l| l.published >= before + 3).await);
    let r = m.stop().await;
    assert!(
        node.log()
            .commands
            .iter()
            .any(|(t, _)| t == "spBv1.0/plant/NCMD/gw-1"),
        "{:?}",
        node.log().commands
    );
    let p = device(&r, "press-3");
    assert!(p.online);
    assert!(
        p.readings
            .get("temperature")
            .is_some_and(|t| t.last == 19.0),
        "{:?}",
        p.readings
    );
    assert_eq!(p.malformed, 0, "{:?}", p.last_malformed);
    assert_eq!(r.messages.malformed, 0);
}
