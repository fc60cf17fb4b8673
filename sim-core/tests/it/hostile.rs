//! Hostile input from a stranger on the fleet's own topics, against a real Mosquitto: the
//! run goes on, its memory stays bounded, and the report is written.

use crate::scenario;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim_core::load::process_rss_kib;
use sim_core::run::{Phase, Progress, RunOptions};
use sim_core::test_support::Mosquitto;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const FLEET: &str = r#"
[scenario]
name = "hostile"
duration = "12s"
tick = "100ms"
speed = 1

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 3
model = "dht22"
environment = "room"
publish_every = "2s"
"#;

/// What a stranger publishes on two devices' telemetry topics: `seq` numbers that once
/// made the per-device bitmap ask for 1 GiB and 576 PiB.
const FORGED: [(&str, u64); 2] = [("dht-1", 1 << 33), ("dht-2", 1 << 62)];

/// Publish the forged messages at QoS 1 and wait for the broker's PUBACKs.
async fn publish_forged(port: u16) {
    let mut o = MqttOptions::new("stranger", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(10));
    let (client, mut el) = AsyncClient::new(o, 16);
    for (device, seq) in FORGED {
        let body = format!(r#"{{"device_id":"{device}","seq":{seq}}}"#);
        client
            .publish(
                format!("twin/hostile/{device}/telemetry"),
                QoS::AtLeastOnce,
                false,
                body,
            )
            .await
            .unwrap();
    }
    let mut acked = 0;
    while acked < FORGED.len() {
        if let Event::Incoming(Packet::PubAck(_)) = el.poll().await.unwrap() {
            acked += 1;
        }
    }
}

#[test]
fn a_forged_huge_seq_costs_neither_the_run_nor_its_memory() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let s = scenario(FLEET);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (report, rss_before, rss_after) = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::watch::channel(Progress::default());
        let opts = RunOptions {
            broker_url: Some(m.url()),
            ..RunOptions::default()
        };
        let run = tokio::spawn(async move {
            sim_core::run::run(&s, opts, tx, Arc::new(AtomicBool::new(false))).await
        });
        // Every device has been heard from once: its tally exists.
        let seen_all = rx.wait_for(|p| p.phase == Phase::Running && p.received >= 3);
        tokio::time::timeout(Duration::from_secs(30), seen_all)
            .await
            .expect("the fleet runs within 30 s")
            .expect("progress channel open");
        let before = process_rss_kib().unwrap();
        tokio::time::timeout(Duration::from_secs(10), publish_forged(m.addr.port()))
            .await
            .expect("the broker acknowledges the forged messages");
        let report = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the run ends by itself")
            .unwrap()
            .expect("the run reports");
        (report, before, process_rss_kib().unwrap())
    });
    // The bitmap of a device's `seq` numbers is bounded (8 KiB): a forged number costs
    // no more memory than a real one, report included.
    let grown_kib = rss_after.saturating_sub(rss_before);
    assert!(
        grown_kib < 64 * 1024,
        "RSS grew by {grown_kib} KiB ({rss_before} -> {rss_after})"
    );
    assert_eq!(report.devices.total, 3);
    assert_eq!(report.devices.seen, 3);
    let dht3 = report.per_device.iter().find(|d| d.id == "dht-3").unwrap();
    assert!(
        dht3.received >= 5,
        "the untouched device kept reporting: {dht3:?}"
    );
}
