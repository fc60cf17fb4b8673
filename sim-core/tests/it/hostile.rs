//! Hostile input from a stranger on the fleet's own topics, against a real Mosquitto: the
//! run goes on, its memory stays bounded, and the report is written.

use crate::scenario;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use sim_core::ingest::IngestState;
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

/// Run `fleet` on `m`; once every one of its `devices` was heard from, `stranger` does
/// its worst. Returns the report and the test process's RSS (KiB) before the stranger
/// and after the report.
fn run_with_stranger<F, Fut>(
    fleet: &str,
    devices: u64,
    m: &Mosquitto,
    stranger: F,
) -> (sim_core::report::Report, u64, u64)
where
    F: FnOnce(u16) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let s = scenario(fleet);
    let url = m.url();
    let port = m.addr.port();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let (tx, mut rx) = tokio::sync::watch::channel(Progress::default());
        let opts = RunOptions {
            broker_url: Some(url),
            ..RunOptions::default()
        };
        let run = tokio::spawn(async move {
            sim_core::run::run(&s, opts, tx, Arc::new(AtomicBool::new(false))).await
        });
        let seen_all = rx.wait_for(|p| p.phase == Phase::Running && p.received >= devices);
        tokio::time::timeout(Duration::from_secs(30), seen_all)
            .await
            .expect("the fleet runs within 30 s")
            .expect("progress channel open");
        let before = process_rss_kib().unwrap();
        tokio::time::timeout(Duration::from_secs(30), stranger(port))
            .await
            .expect("the stranger is done within 30 s");
        let report = tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("the run ends by itself")
            .unwrap()
            .expect("the run reports");
        (report, before, process_rss_kib().unwrap())
    })
}

/// A stranger's client: publish each (topic, payload, retain) at QoS 1 and wait for
/// every PUBACK.
async fn publish_all(port: u16, messages: Vec<(String, Vec<u8>, bool)>) {
    let mut o = MqttOptions::new("stranger", "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(10));
    o.set_max_packet_size(300 * 1024 * 1024, 300 * 1024 * 1024);
    let (client, mut el) = AsyncClient::new(o, 16);
    let n = messages.len();
    tokio::spawn(async move {
        for (topic, payload, retain) in messages {
            client
                .publish(topic, QoS::AtLeastOnce, retain, payload)
                .await
                .unwrap();
        }
    });
    let mut acked = 0;
    while acked < n {
        if let Event::Incoming(Packet::PubAck(_)) = el.poll().await.unwrap() {
            acked += 1;
        }
    }
}

/// What the stranger publishes on the fleet's topics, and why ingest must not count it.
fn forgeries() -> Vec<(String, Vec<u8>, bool)> {
    let t = |d: &str| format!("twin/hostile/{d}/telemetry");
    [
        // An upcoming seq: counted as received, it would make the real one a duplicate.
        (
            t("dht-1"),
            r#"{"device_id":"dht-1","seq":5,"temperature":99.0}"#,
        ),
        // Another device's id on dht-2's topic: the topic names the device.
        (
            t("dht-2"),
            r#"{"device_id":"dht-1","seq":0,"temperature":99.0}"#,
        ),
        // A send time the scenario never asked for: a latency of an hour if trusted.
        (t("dht-2"), r#"{"device_id":"dht-2","seq":900,"sent_us":1}"#),
        (t("ghost"), r#"{"device_id":"ghost","seq":0}"#),
        (t("dht-3"), "not json"),
    ]
    .into_iter()
    .map(|(topic, body)| (topic, body.as_bytes().to_vec(), false))
    .collect()
}

#[test]
fn forged_telemetry_is_counted_apart_and_the_real_fleet_exactly() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let (r, _, _) = run_with_stranger(FLEET, 3, &m, |port| publish_all(port, forgeries()));
    let sent: u64 = r.per_device.iter().map(|d| d.sent).sum();
    assert!(sent >= 15, "{:?}", r.messages);
    // Only what the fleet sent is received: none lost, none a duplicate.
    assert_eq!(
        (r.messages.received, r.messages.lost, r.messages.duplicates),
        (sent, 0, 0),
        "{:?}",
        r.messages
    );
    for d in &r.per_device {
        assert_eq!((d.received, d.duplicates), (d.sent, 0), "{d:?}");
    }
    let rj = &r.rejected;
    assert_eq!(
        (
            rj.never_sent,
            rj.wrong_device,
            rj.unknown_device,
            rj.malformed
        ),
        (2, 1, 1, 1),
        "{rj:?}"
    );
    assert_eq!((r.messages.foreign, r.messages.malformed), (4, 1));
    let on = |topic: &str, reason: &str| {
        rj.topics
            .iter()
            .find(|t| t.topic == topic && t.reason.name() == reason)
            .map(|t| t.count)
    };
    assert_eq!(on("twin/hostile/dht-2/telemetry", "never_sent"), Some(1));
    assert_eq!(
        on("twin/hostile/ghost/telemetry", "unknown_device"),
        Some(1)
    );
    assert_eq!(on("twin/hostile/dht-3/telemetry", "malformed"), Some(1));
    // Neither the forged readings nor the forged send time reached the analytics.
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    let max = r.latency_ms.as_ref().unwrap().max;
    assert!(max < 10_000.0, "latency max {max} ms");
}

/// A fleet with an actuator: a command payload goes to the relay's session.
const WITH_RELAY: &str = r#"
[scenario]
name = "hostile"
duration = "12s"
tick = "100ms"
speed = 1

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 2
model = "dht22"
environment = "room"
publish_every = "2s"

[[devices]]
id = "relay-1"
model = "relay"
publish_every = "2s"
"#;

#[test]
fn an_oversized_payload_costs_no_connection_and_no_other_message() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let big = |n: usize| vec![b'x'; n];
    let (r, before, after) = run_with_stranger(WITH_RELAY, 3, &m, |port| {
        publish_all(
            port,
            vec![
                // Retained: every connection of the ingest would get it again.
                (
                    "twin/hostile/dht-1/telemetry".into(),
                    big(1536 * 1024),
                    true,
                ),
                ("twin/hostile/dht-2/telemetry".into(), big(64 << 20), false),
                // Retained on an actuator's command topic, past its session's limit.
                ("twin/hostile/relay-1/cmd".into(), big(300 * 1024), true),
            ],
        )
    });
    let sent: u64 = r.per_device.iter().map(|d| d.sent).sum();
    assert_eq!(
        (r.messages.received, r.messages.lost),
        (sent, 0),
        "{:?}",
        r.messages
    );
    assert_eq!(r.rejected.oversized, 2, "{:?}", r.rejected);
    assert_eq!(r.messages.malformed, 2);
    assert_eq!(r.sessions.reconnects, 0, "{:?}", r.sessions);
    assert_eq!(r.sessions.commands_rejected, 1, "{:?}", r.sessions);
    assert!(r.alerts.is_empty(), "{:?}", r.alerts);
    // The 64 MiB message was read and let go: the process holds no copy of it.
    let grown_kib = after.saturating_sub(before);
    println!("RSS {before} -> {after} KiB");
    assert!(grown_kib < 160 * 1024, "RSS grew by {grown_kib} KiB");
}

/// An attached ingest (the one `twin tui --attach` runs) with room for `cap` devices.
fn attached_ingest(cap: usize) -> (sim_core::ingest::Ingest, Arc<std::sync::Mutex<IngestState>>) {
    use sim_core::analytics::fleet::{FleetAnalytics, FleetConfig};
    let analytics = FleetAnalytics::new(FleetConfig::default(), Vec::new(), &[], &[]);
    let mut st = IngestState::new(&[], analytics, 0.0);
    st.attach_cap = cap;
    let state = Arc::new(std::sync::Mutex::new(st));
    let ingest = sim_core::ingest::Ingest {
        state: state.clone(),
        counters: Default::default(),
        send_log: Default::default(),
        encoding: scenarios::Encoding::Json,
        topics: sim_core::attach::topics_for("twin/#"),
        attach: true,
    };
    (ingest, state)
}

#[test]
fn an_attached_view_keeps_at_most_its_cap_of_invented_devices() {
    if !Mosquitto::wanted() {
        return;
    }
    use sim_core::transport::endpoint::{Endpoint, Security};
    const INVENTED: usize = 20_000;
    const CAP: usize = 500;
    let m = Mosquitto::start("").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (st, before, after) = rt.block_on(async {
        let (ingest, state) = attached_ingest(CAP);
        let endpoint = Endpoint::new(&m.url(), &Security::default()).unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let (stop, shutdown) = sim_core::transport::shutdown::signal();
        let task = tokio::spawn(sim_core::ingest::run(
            ingest,
            endpoint,
            QoS::AtLeastOnce,
            ready_tx,
            shutdown,
        ));
        tokio::time::timeout(Duration::from_secs(10), ready_rx)
            .await
            .expect("subscribed within 10 s")
            .unwrap();
        let before = process_rss_kib().unwrap();
        let forged = (0..INVENTED)
            .map(|i| {
                let body = format!(r#"{{"device_id":"x{i}","seq":0,"temperature":20.0}}"#);
                (format!("twin/f/x{i}/telemetry"), body.into_bytes(), false)
            })
            .collect();
        tokio::time::timeout(Duration::from_secs(60), publish_all(m.addr.port(), forged))
            .await
            .expect("the broker takes the forged messages within 60 s");
        // Everything the broker acknowledged reaches the ingest: wait until it is counted.
        let counted = |st: &IngestState| st.attached.len() as u64 + st.over_cap;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while counted(&state.lock().unwrap()) < INVENTED as u64 {
            assert!(
                std::time::Instant::now() < deadline,
                "not all counted in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = process_rss_kib().unwrap();
        stop.fire();
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        let st = state.lock().unwrap();
        (
            (st.attached.len(), st.over_cap, st.rejected.summary()),
            before,
            after,
        )
    });
    let (kept, over, rejected) = st;
    assert_eq!(kept, CAP);
    assert_eq!(over, (INVENTED - CAP) as u64);
    assert_eq!(rejected.unknown_device, (INVENTED - CAP) as u64);
    assert!(rejected.topics.len() <= sim_core::rejected::TOPICS_LISTED);
    let grown_kib = after.saturating_sub(before);
    println!("RSS {before} -> {after} KiB for {INVENTED} invented ids, {CAP} kept");
    assert!(grown_kib < 48 * 1024, "RSS grew by {grown_kib} KiB");
}
