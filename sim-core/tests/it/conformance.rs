//! The lean sessions speak MQTT as the broker asks (issue 20): what CONNACK announces is
//! honoured (Receive Maximum, Server Keep Alive, Maximum QoS, Maximum Packet Size,
//! Shared Subscription Available), acknowledgements are checked against the QoS they
//! acknowledge, and a broker that kicks a session every time ends the run instead of
//! drawing a reconnect storm. Against Mosquitto started with each limit, and against
//! `ConnackServer`, a fake broker that says what a test needs.

use sim_core::load::{
    ConnReport, ConnSpec, LoadReport, LoadSpec, Protocol, SubSpec, connect, publish, subscribe,
};
use sim_core::run::RunError;
use sim_core::test_support::{Answers, ConnackServer, Mosquitto};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// A short run: 4 sessions × `count` messages every 10 ms.
fn small(url: String, qos: u8, protocol: Protocol, count: u64) -> LoadSpec {
    LoadSpec {
        clients: 4,
        interval: Duration::from_millis(10),
        count: Some(count),
        duration: Duration::from_secs(5),
        drain: Duration::from_secs(5),
        qos,
        protocol,
        broker: Some(url),
        connect_timeout: Duration::from_secs(5),
        topic: format!("conform/{qos}/%i"),
        ..LoadSpec::default()
    }
}

fn try_run(s: &LoadSpec) -> Result<LoadReport, RunError> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(30),
            publish(s, Arc::new(AtomicBool::new(false))),
        )
        .await
        .expect("load run ends by itself")
    })
}

fn run(s: &LoadSpec) -> LoadReport {
    try_run(s).unwrap_or_else(|e| panic!("load run failed: {e}"))
}

/// Every message sent, received once and acknowledged; no session ever reconnected.
fn assert_exact(r: &LoadReport, n: u64) {
    let m = &r.messages;
    assert_eq!(
        (m.sent, m.received, m.lost, m.duplicates),
        (n, n, 0, 0),
        "{m:?}"
    );
    if r.qos_granted > 0 {
        assert_eq!(r.acked, n);
    }
    assert_eq!(
        (
            r.connect.errors,
            r.connect.reconnects,
            r.connect.subscriber_reconnects
        ),
        (0, 0, 0),
        "no reconnects: {:?} {:?}",
        r.connect,
        r.broker_reasons
    );
    assert_eq!(r.stopped_by, None);
}

/// The run was refused before it published, with a reason that holds `words`.
fn assert_refused(r: Result<LoadReport, RunError>, words: &str) {
    match r {
        Err(RunError::Refused { why, .. }) => assert!(why.contains(words), "{why}"),
        other => panic!("expected a refusal naming {words:?}, got {other:?}"),
    }
}

#[test]
fn receive_maximum_caps_the_in_flight_window_against_mosquitto() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("max_inflight_messages 1").unwrap();
    for qos in [1, 2] {
        // MQTT 5: the window is the broker's 1, not --inflight 20, so no publish is
        // refused with "quota exceeded" (0x97) and every one is counted.
        let r = run(&small(m.url(), qos, Protocol::V5, 10));
        assert_exact(&r, 40);
        assert_eq!(r.broker_limits.receive_maximum, Some(1));
        assert_eq!(r.inflight, 1, "qos {qos}");
        assert!(r.broker_reasons.is_empty(), "{:?}", r.broker_reasons);
        // MQTT 3.1.1: nothing announced, the asked window kept; still exact.
        let r = run(&small(m.url(), qos, Protocol::V311, 10));
        assert_exact(&r, 40);
        assert_eq!((r.broker_limits.receive_maximum, r.inflight), (None, 20));
    }
}

#[test]
fn server_keep_alive_replaces_the_asked_keep_alive() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("max_keepalive 10").unwrap();
    let conn = |spec: &ConnSpec| -> ConnReport {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(connect(spec, Arc::new(AtomicBool::new(false))))
            .unwrap()
    };
    let spec = ConnSpec {
        clients: 5,
        hold: Duration::from_millis(500),
        broker: Some(m.url()),
        keep_alive: Duration::from_secs(60),
        protocol: Protocol::V5,
        ..ConnSpec::default()
    };
    let r = conn(&spec);
    assert_eq!((r.connected, r.held, r.dropped), (5, 5, 0));
    assert_eq!(r.broker_limits.server_keep_alive, Some(10));
    assert_eq!(r.keep_alive_s, 10);
    // The publishers and the counting subscriber keep it too (and count exactly).
    let p = run(&small(m.url(), 1, Protocol::V5, 5));
    assert_exact(&p, 20);
    assert_eq!(p.broker_limits.server_keep_alive, Some(10));
    // Pinging at half the broker's keep-alive, not the asked one: a fake broker that
    // announces 2 s gets a PINGREQ a second from each held session.
    let server =
        ConnackServer::start_with(vec![0x20, 0x06, 0x00, 0x00, 0x03, 0x13, 0x00, 0x02]).unwrap();
    let r = conn(&ConnSpec {
        clients: 2,
        hold: Duration::from_millis(2500),
        broker: Some(server.url()),
        ..spec
    });
    assert_eq!((r.connected, r.held, r.keep_alive_s), (2, 2, 2));
    assert_eq!(server.wait_closed(2, Duration::from_secs(10)), (2, 2));
    assert_eq!(server.pings(), 4);
    assert!(server.connects().iter().all(|c| c.keep_alive == 60));
}

#[test]
fn maximum_qos_refuses_the_run_or_downgrades_it_when_asked() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("max_qos 1").unwrap();
    // MQTT 5 announces it in CONNACK; 3.1.1 shows it in the SUBACK (granted 1).
    for (protocol, words) in [
        (Protocol::V5, "CONNACK Maximum QoS 1"),
        (Protocol::V311, "SUBACK granted QoS 1"),
    ] {
        let t0 = Instant::now();
        assert_refused(try_run(&small(m.url(), 2, protocol, 10)), words);
        assert!(t0.elapsed() < Duration::from_secs(5), "refused at once");
        let r = run(&LoadSpec {
            downgrade_qos: true,
            ..small(m.url(), 2, protocol, 10)
        });
        assert_exact(&r, 40);
        assert_eq!((r.qos, r.qos_granted), (2, 1));
        assert!(r.downgrade.as_deref().unwrap().contains(words), "{r:?}");
    }
    // No publisher ever connected while refused: only the counting subscribers did
    // (one per refused run) before the two downgraded runs' sessions.
    let publishers = m
        .log()
        .lines()
        .filter(|l| l.contains("New client connected") && l.contains(" as twin-load-"))
        .filter(|l| !l.contains("twin-load-sub-"))
        .count();
    assert_eq!(publishers, 8, "{}", m.log());
}

#[test]
fn maximum_packet_size_refuses_a_run_whose_publishes_exceed_it() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("max_packet_size 200").unwrap();
    let big = LoadSpec {
        size: 321,
        ..small(m.url(), 1, Protocol::V5, 5)
    };
    let t0 = Instant::now();
    assert_refused(try_run(&big), "Maximum Packet Size is 200 bytes");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // Under the limit, exact.
    let r = run(&LoadSpec {
        size: 100,
        ..big.clone()
    });
    assert_exact(&r, 20);
    assert_eq!(r.broker_limits.maximum_packet_size, Some(200));
    // MQTT 3.1.1 announces nothing: the broker closes each session that sends too much;
    // the backoff, which starts over only once a session stayed up, keeps that a
    // trickle, not a storm.
    let r = run(&LoadSpec {
        protocol: Protocol::V311,
        clients: 1,
        drain: Duration::from_secs(2),
        ..big
    });
    assert_eq!(r.messages.received, 0);
    assert!(r.connect.reconnects <= 8, "{:?}", r.connect);
}

/// An MQTT 5 CONNACK of 169 bytes: a 150-byte user property and Receive Maximum 3.
fn long_connack() -> Vec<u8> {
    let mut props = vec![0x26, 0x00, 0x01, b'k', 0x00, 150];
    props.extend([b'x'; 150]);
    props.extend([0x21, 0x00, 0x03]);
    let mut body = vec![0x00, 0x00, props.len() as u8 | 0x80, 0x01];
    body.extend(props);
    assert!(body.len() > 127);
    let mut p = vec![
        0x20,
        (body.len() % 128) as u8 | 0x80,
        (body.len() / 128) as u8,
    ];
    p.extend(body);
    p
}

#[test]
fn a_puback_to_a_qos_2_publish_is_counted_as_a_downgrade() {
    let server = ConnackServer::start_answering(
        long_connack(),
        Answers {
            suback: Some(2),
            publish: true,
            puback_qos2: true,
            ..Answers::default()
        },
    )
    .unwrap();
    let r = run(&small(server.url(), 2, Protocol::V5, 5));
    // Every message arrived and its PUBACK completed it, each counted as a downgrade.
    assert_exact(&r, 20);
    assert_eq!((r.qos, r.qos_granted, r.downgraded), (2, 1, 20));
    // The long CONNACK was read whole: its Receive Maximum is the window.
    assert_eq!((r.broker_limits.receive_maximum, r.inflight), (Some(3), 3));
}

#[test]
fn no_shared_subscriptions_refuses_several_subscribers_before_subscribing() {
    // ejabberd's CONNACK: Shared Subscription Available 0.
    let server = ConnackServer::start_answering(
        vec![0x20, 0x05, 0x00, 0x00, 0x02, 0x2A, 0x00],
        Answers {
            suback: Some(1),
            publish: true,
            ..Answers::default()
        },
    )
    .unwrap();
    let t0 = Instant::now();
    let spec = LoadSpec {
        subscribers: 2,
        ..small(server.url(), 1, Protocol::V5, 5)
    };
    assert_refused(try_run(&spec), "does not support shared subscriptions");
    assert!(t0.elapsed() < Duration::from_secs(3));
    // At most a connection per subscriber (the first refusal ends the run, so the
    // second may never connect), no SUBSCRIBE, no storm.
    let connects = server.connects().len();
    assert!((1..=2).contains(&connects), "{connects} connections");
    assert!(server.subscribes().is_empty());
    // One subscriber needs no sharing: the run goes on, exact.
    let r = run(&LoadSpec {
        subscribers: 1,
        ..spec
    });
    assert_exact(&r, 20);
    assert_eq!(r.broker_limits.shared_subscriptions, Some(false));
}

#[test]
fn no_retain_or_no_wildcards_refuse_the_run_before_it_publishes() {
    let answers = Answers {
        suback: Some(1),
        publish: true,
        ..Answers::default()
    };
    // Retain Available 0: --retain is refused, naming it; no PUBLISH reached the broker.
    let server = ConnackServer::start_answering(
        vec![0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x00],
        answers.clone(),
    )
    .unwrap();
    let spec = LoadSpec {
        retain: true,
        ..small(server.url(), 1, Protocol::V5, 5)
    };
    assert_refused(try_run(&spec), "Retain Available 0");
    assert_eq!(server.publishes(), 0);
    // Wildcard Subscription Available 0: the counting subscriber's `+` filter is refused
    // before SUBSCRIBE.
    let server =
        ConnackServer::start_answering(vec![0x20, 0x05, 0x00, 0x00, 0x02, 0x28, 0x00], answers)
            .unwrap();
    assert_refused(
        try_run(&small(server.url(), 1, Protocol::V5, 5)),
        "does not support wildcard subscriptions",
    );
    assert!(server.subscribes().is_empty());
}

#[test]
fn a_broker_that_kicks_every_publish_ends_the_run_with_its_reason() {
    let server = ConnackServer::start_answering(
        vec![0x20, 0x03, 0x00, 0x00, 0x00],
        Answers {
            suback: Some(1),
            kick_on_publish: Some(vec![0xE0, 0x01, 0x9B]),
            ..Answers::default()
        },
    )
    .unwrap();
    let spec = LoadSpec {
        clients: 1,
        ..small(server.url(), 1, Protocol::V5, 50)
    };
    let t0 = Instant::now();
    let r = run(&spec);
    assert!(t0.elapsed() < Duration::from_secs(10));
    let why = r
        .stopped_by
        .as_deref()
        .expect("the run says why it stopped");
    assert!(why.contains("0x9b (QoS not supported) 3 times"), "{why}");
    let kicks: Vec<_> = r
        .broker_reasons
        .iter()
        .map(|x| (x.packet.as_str(), x.code, x.count))
        .collect();
    assert_eq!(kicks, [("DISCONNECT", 0x9B, 3)]);
    // The subscriber and three publisher connections: no storm.
    assert_eq!(server.connects().len(), 4);
    assert_eq!(r.connect.reconnects, 2);
}

#[test]
fn load_sub_over_mqtt5_against_a_3_1_1_broker_fails_at_once_with_the_reason() {
    // A 3.1.1-only broker answers an MQTT 5 CONNECT with return code 1.
    let server = ConnackServer::start(1).unwrap();
    let spec = SubSpec {
        clients: 2,
        broker: Some(server.url()),
        protocol: Protocol::V5,
        connect_timeout: Duration::from_secs(10),
        ..SubSpec::default()
    };
    let t0 = Instant::now();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt.block_on(subscribe(&spec, Arc::new(AtomicBool::new(false)), None));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "no wait for the timeout"
    );
    match r {
        Err(RunError::Refused { why, .. }) => {
            assert!(why.contains("protocol version refused"), "{why}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn twin_runs_ingest_says_disconnect_on_a_clean_stop() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let r = crate::run_blocking(
        &crate::scenario(
            r#"
[scenario]
name = "goodbye"
duration = "2s"
tick = "100ms"
speed = 1

[[devices]]
id = "plug-{n}"
count = 2
model = "relay"
publish_every = "1s"
"#,
        ),
        Some(m.url()),
    );
    assert_eq!(r.devices.seen, 2);
    // Mosquitto logs "Client ID disconnected." for a DISCONNECT and "Client ID closed
    // its connection." for a connection closed without one.
    let log = m.log();
    let ingest: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("Client twin-ingest-"))
        .collect();
    assert!(
        ingest.iter().any(|l| l.ends_with(" disconnected.")),
        "{log}"
    );
    assert!(
        !ingest.iter().any(|l| l.contains("closed its connection")),
        "{log}"
    );
}
