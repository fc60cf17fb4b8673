//! `twin load pub` against real brokers: exact counts, both latencies.

use sim_core::load::{LoadSpec, publish};
use sim_core::test_support::Mosquitto;
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
    let r = run(&spec(1, Some(m.url())));
    assert!(!r.broker.embedded);
    assert_exact(&r);
}

#[test]
fn load_conn_opens_holds_and_times_every_session() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let spec = sim_core::load::ConnSpec {
        clients: 200,
        ramp_per_s: 2000.0,
        hold: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(10),
        broker: None,
    };
    let r = rt
        .block_on(sim_core::load::connect(
            &spec,
            Arc::new(AtomicBool::new(false)),
        ))
        .unwrap();
    assert_eq!((r.connected, r.failed, r.held), (200, 0, 200));
    let l = r.connect_ms.expect("connect latency");
    assert!(l.p50 > 0.0 && l.p50 <= l.max);

    // Nothing listening: every attempt fails, within the timeout, and is counted.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = sim_core::load::ConnSpec {
        clients: 3,
        broker: Some(format!("mqtt://127.0.0.1:{port}")),
        connect_timeout: Duration::from_secs(1),
        hold: Duration::ZERO,
        ..spec
    };
    let r = rt
        .block_on(sim_core::load::connect(
            &spec,
            Arc::new(AtomicBool::new(false)),
        ))
        .unwrap();
    assert_eq!((r.connected, r.failed, r.held), (0, 3, 0));
    assert!(r.connect_ms.is_none());
}
