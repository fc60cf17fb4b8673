//! `twin load pub` and `twin load conn` against real brokers (and a CONNACK-only
//! listener): exact counts, both latencies, source addresses, shards.

use sim_core::load::{ConnReport, ConnSpec, LoadSpec, Shard, connect, merge_conn, publish};
use sim_core::test_support::{ConnackServer, Mosquitto};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

fn spec(qos: u8, broker: Option<String>) -> LoadSpec {
    LoadSpec {
        clients: 10,
        interval: Duration::from_millis(20),
        qos,
        size: 128,
        topic: "twin-load-test/%i".into(),
        duration: Duration::from_secs(1),
        count: None,
        drain: Duration::from_secs(10),
        broker,
        ..LoadSpec::default()
    }
}

fn run(s: &LoadSpec) -> sim_core::load::LoadReport {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            publish(s, Arc::new(AtomicBool::new(false))),
        )
        .await
        .expect("load run ends by itself")
        .expect("load run succeeds")
    })
}

fn assert_exact(r: &sim_core::load::LoadReport) {
    // 10 publishers × 1 s / 20 ms = 500 messages, every one counted once.
    assert_eq!(r.messages.sent, 500, "{:?}", r.messages);
    assert_eq!(r.messages.received, 500, "{:?}", r.messages);
    assert_eq!(
        (r.messages.lost, r.messages.duplicates, r.messages.malformed),
        (0, 0, 0)
    );
    let a = r.latency_ms.expect("latency");
    let i = r.latency_intended_ms.expect("intended latency");
    assert!(a.p50 > 0.0 && a.p50 <= a.p99 && a.p99 <= a.max);
    // Measured from the intended time, latency can only be larger.
    assert!(i.max >= a.max - 1e-9 || i.p99 >= a.p99, "{a:?} vs {i:?}");
    assert_eq!(r.size, 128);
    // Every QoS 1/2 publish was acknowledged, and each acknowledgement timed.
    assert_eq!(r.acked, 500);
    assert_eq!(r.ack_ms.expect("ack latency").count, 500);
    assert_eq!(
        (r.connect.connected, r.connect.failed, r.connect.errors),
        (10, 0, 0)
    );
    assert_eq!(r.connect_ms.expect("connect latency").count, 10);
    assert_eq!(r.schedule_lag_ms.expect("lag").count, 500);
    for h in ["latency", "intended", "ack", "connect", "schedule_lag"] {
        assert!(r.histograms.contains_key(h), "{h}");
    }
}

#[test]
fn load_pub_counts_exactly_on_the_embedded_broker_at_qos_1_and_2() {
    for qos in [1, 2] {
        let r = run(&spec(qos, None));
        assert!(r.broker.embedded);
        assert_eq!(r.qos, qos);
        assert_exact(&r);
    }
}

#[test]
fn load_pub_counts_exactly_against_mosquitto() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    // At QoS 2 too (PUBREC, PUBREL, PUBCOMP), from two source addresses; at QoS 2
    // counted by three subscribers sharing the subscription.
    for qos in [1, 2] {
        let r = run(&LoadSpec {
            subscribers: if qos == 2 { 3 } else { 1 },
            source_ips: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
            topic: format!("twin-load-test/{qos}/%i"),
            ..spec(qos, Some(m.url()))
        });
        assert!(!r.broker.embedded);
        assert_exact(&r);
    }
    let log = m.log();
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let n = log
            .lines()
            .filter(|l| l.contains(&format!("New client connected from {ip}:")))
            .count();
        // Five of each run's ten publishers.
        assert_eq!(n, 10, "{ip} in {log}");
    }
}

fn conn(spec: &ConnSpec) -> ConnReport {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            connect(spec, Arc::new(AtomicBool::new(false))),
        )
        .await
        .expect("load conn ends by itself")
        .expect("load conn runs")
    })
}

#[test]
fn load_conn_opens_holds_and_times_every_session() {
    let spec = ConnSpec {
        clients: 200,
        ramp_per_s: 2000.0,
        hold: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(10),
        ..ConnSpec::default()
    };
    let r = conn(&spec);
    assert!(r.broker.embedded);
    assert_eq!(
        (r.clients, r.connected, r.failed, r.held),
        (200, 200, 0, 200)
    );
    assert_eq!(r.refused, 0);
    let l = r.connect_ms.expect("connect latency");
    assert!(l.p50 > 0.0 && l.p50 <= l.max);
    assert_eq!(l.count, 200);
    assert!(r.histograms.contains_key("connect"));
    assert!(r.rss_kib.expect("rss at the hold") > 0);
    assert!(r.rss_per_session_kib.is_some());
    assert_eq!((r.shard.as_deref(), r.merged), (None, 1));

    // Nothing listening: every attempt fails, within the timeout, and is counted.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = ConnSpec {
        clients: 3,
        broker: Some(format!("mqtt://127.0.0.1:{port}")),
        connect_timeout: Duration::from_secs(1),
        hold: Duration::ZERO,
        ..spec
    };
    let r = conn(&spec);
    assert_eq!((r.connected, r.failed, r.refused, r.held), (0, 3, 0, 0));
    assert!(r.connect_ms.is_none());
    assert_eq!(r.rss_per_session_kib, None);
}

#[test]
fn load_conn_spreads_sessions_over_source_ips_and_says_goodbye() {
    let server = ConnackServer::start(0).unwrap();
    let spec = ConnSpec {
        clients: 20,
        ramp_per_s: 1000.0,
        hold: Duration::from_millis(200),
        broker: Some(server.url()),
        source_ips: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
        keep_alive: Duration::from_secs(30),
        ..ConnSpec::default()
    };
    let r = conn(&spec);
    assert_eq!((r.connected, r.failed, r.held), (20, 0, 20));
    let seen = server.connects();
    assert_eq!(seen.len(), 20);
    let from = |ip: &str| {
        seen.iter()
            .filter(|c| c.peer.ip().to_string() == ip)
            .count()
    };
    assert_eq!((from("127.0.0.2"), from("127.0.0.3")), (10, 10));
    // Round-robin by session index: even indices from the first address.
    for c in &seen {
        let index: usize = c.client_id.rsplit('-').next().unwrap().parse().unwrap();
        let want = if index.is_multiple_of(2) {
            "127.0.0.2"
        } else {
            "127.0.0.3"
        };
        assert_eq!(c.peer.ip().to_string(), want, "{c:?}");
        assert!(c.client_id.starts_with("twin-conn-"), "{c:?}");
        assert_eq!((c.keep_alive, c.flags), (30, 0x02), "{c:?}");
    }
    // Released sessions send DISCONNECT before closing.
    assert_eq!(server.wait_closed(20, Duration::from_secs(10)), (20, 20));
}

#[test]
fn load_conn_pings_at_half_the_keep_alive() {
    let server = ConnackServer::start(0).unwrap();
    let spec = ConnSpec {
        clients: 2,
        hold: Duration::from_millis(2500),
        broker: Some(server.url()),
        keep_alive: Duration::from_secs(2),
        ..ConnSpec::default()
    };
    let r = conn(&spec);
    assert_eq!((r.connected, r.held), (2, 2));
    // Pings at 1 s and 2 s of each session's hold, each answered (or it would drop).
    assert_eq!(server.wait_closed(2, Duration::from_secs(10)), (2, 2));
    assert_eq!(server.pings(), 4);
}

/// An MQTT 5 CONNACK whose user property makes it 160 bytes long: its remaining length
/// takes two bytes (0xa0 0x01), as §2.1.4 allows.
fn long_connack() -> Vec<u8> {
    let mut prop = vec![0x26, 0x00, 0x01, b'k', 0x00, 150];
    prop.extend([b'x'; 150]);
    assert_eq!(prop.len(), 156);
    let mut body = vec![0x00, 0x00, 0x9c, 0x01];
    body.extend(prop);
    assert_eq!(body.len(), 160);
    let mut p = vec![0x20, 0xa0, 0x01];
    p.extend(body);
    p
}

#[test]
fn load_conn_reads_a_connack_longer_than_127_bytes() {
    let server = ConnackServer::start_with(long_connack()).unwrap();
    let spec = ConnSpec {
        clients: 2,
        hold: Duration::from_millis(100),
        broker: Some(server.url()),
        protocol: sim_core::load::Protocol::V5,
        ..ConnSpec::default()
    };
    let r = conn(&spec);
    assert_eq!((r.connected, r.failed, r.refused, r.held), (2, 0, 0, 2));
    assert_eq!(server.connects().len(), 2);
}

#[test]
fn load_conn_counts_refused_connacks_by_code() {
    let server = ConnackServer::start(5).unwrap();
    let spec = ConnSpec {
        clients: 4,
        hold: Duration::ZERO,
        broker: Some(server.url()),
        ..ConnSpec::default()
    };
    let r = conn(&spec);
    assert_eq!((r.connected, r.failed, r.refused, r.held), (0, 4, 4, 0));
    assert_eq!(r.refused_codes, BTreeMap::from([(5, 4)]));
    assert!(r.connect_ms.is_none());
}

#[test]
fn load_conn_shards_take_disjoint_slices_and_merge_to_the_totals() {
    let server = ConnackServer::start(0).unwrap();
    let shards: Vec<ConnReport> = (0..3)
        .map(|i| {
            conn(&ConnSpec {
                clients: 10,
                hold: Duration::ZERO,
                broker: Some(server.url()),
                shard: Shard { index: i, count: 3 },
                ..ConnSpec::default()
            })
        })
        .collect();
    assert_eq!(
        shards.iter().map(|r| r.clients).collect::<Vec<_>>(),
        [3, 3, 4]
    );
    assert_eq!(shards[2].shard.as_deref(), Some("2/3"));
    // Global indices 0..10, each opened once.
    let mut indices: Vec<usize> = server
        .connects()
        .iter()
        .map(|c| c.client_id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    indices.sort();
    assert_eq!(indices, (0..10).collect::<Vec<_>>());
    let m = merge_conn(&shards).unwrap();
    assert_eq!(
        (m.merged, m.clients, m.connected, m.failed, m.held),
        (3, 10, 10, 0, 10)
    );
    assert_eq!(m.connect_ms.unwrap().count, 10);
    let max = shards
        .iter()
        .map(|r| r.connect_ms.unwrap().max)
        .fold(0.0, f64::max);
    assert_eq!(m.connect_ms.unwrap().max, max);
}

#[test]
fn load_conn_from_two_source_ips_against_mosquitto() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let r = conn(&ConnSpec {
        clients: 50,
        ramp_per_s: 1000.0,
        hold: Duration::from_millis(300),
        broker: Some(m.url()),
        source_ips: vec!["127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap()],
        ..ConnSpec::default()
    });
    assert!(!r.broker.embedded);
    assert_eq!((r.connected, r.failed, r.held), (50, 0, 50));
    assert!(r.rss_per_session_kib.is_some());
    // Mosquitto logs each CONNECT it accepted before answering it.
    let log = m.log();
    for ip in ["127.0.0.2", "127.0.0.3"] {
        let n = log
            .lines()
            .filter(|l| l.contains(&format!("New client connected from {ip}:")))
            .count();
        assert_eq!(n, 25, "{ip} in {log}");
    }
}

#[test]
fn gateway_sessions_publish_for_many_devices_each_counted_apart() {
    // 4 sessions × 50 devices, each device every 500 ms for 1 s: 2 messages a device.
    let s = LoadSpec {
        clients: 4,
        devices_per_session: 50,
        interval: Duration::from_millis(500),
        duration: Duration::from_secs(1),
        topic: "gw/%c/%i".into(),
        ..spec(1, None)
    };
    let r = run(&s);
    assert_eq!((r.clients, r.devices, r.devices_seen), (4, 200, 200));
    assert_eq!(r.messages.sent, 400, "{:?}", r.messages);
    assert_eq!(r.messages.received, 400, "{:?}", r.messages);
    assert_eq!((r.messages.lost, r.messages.duplicates), (0, 0));
    assert_eq!(r.acked, 400);
}

#[test]
fn shards_partition_the_run_and_merge_to_its_totals() {
    // One broker, four shards run one after another in this process, then merged.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = sim_core::transport::broker::EmbeddedBroker::start(64).unwrap();
    let base = LoadSpec {
        clients: 10,
        count: Some(7),
        interval: Duration::from_millis(10),
        broker: Some(broker.url()),
        ..LoadSpec::default()
    };
    let whole = run(&base);
    let shards: Vec<_> = (0..4)
        .map(|i| {
            let s = LoadSpec {
                shard: sim_core::load::Shard { index: i, count: 4 },
                ..base.clone()
            };
            rt.block_on(publish(&s, Arc::new(AtomicBool::new(false))))
                .unwrap()
        })
        .collect();
    assert_eq!(
        shards.iter().map(|r| r.clients).collect::<Vec<_>>(),
        [2, 3, 2, 3]
    );
    let m = sim_core::load::merge(&shards).unwrap();
    assert_eq!(whole.messages.sent, 70);
    assert_eq!(m.messages, whole.messages);
    assert_eq!((m.clients, m.devices, m.acked, m.merged), (10, 10, 70, 4));
    assert_eq!(m.latency_ms.unwrap().count, 70);
    assert_eq!(m.ack_ms.unwrap().count, 70);
    // Each shard's subscriber saw only its own shard's topics.
    assert!(shards.iter().all(|r| r.foreign == 0));
    // Merging is exact: the merged histogram is the sum of the shards'.
    let max = shards
        .iter()
        .map(|r| r.latency_ms.unwrap().max)
        .fold(0.0, f64::max);
    assert_eq!(m.latency_ms.unwrap().max, max);
}
