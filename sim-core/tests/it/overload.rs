//! QoS 1 overload of a broker with a small queue: the messages the broker drops are
//! exactly the messages `twin load pub` reports lost, as the broker itself counts them
//! (read independently with `mosquitto_sub` from its `$SYS` tree).

use sim_core::load::{LoadSpec, publish};
use sim_core::test_support::Mosquitto;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

const MOSQUITTO_SUB: &str = "/usr/bin/mosquitto_sub";

/// One `$SYS` counter of the broker, read with `mosquitto_sub` (retained, so the current
/// value arrives at once).
fn sys_counter(port: u16, topic: &str) -> u64 {
    let o = Command::new(MOSQUITTO_SUB)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic])
        .args(["-C", "1", "-W", "5"])
        .output()
        .expect("mosquitto_sub runs");
    let text = String::from_utf8_lossy(&o.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("{topic}: {text:?} {}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn loss_on_a_small_broker_queue_equals_the_brokers_own_drop_count() {
    if !Mosquitto::wanted() {
        return;
    }
    assert!(
        std::path::Path::new(MOSQUITTO_SUB).exists(),
        "{MOSQUITTO_SUB} missing: apt-get install -y mosquitto-clients"
    );
    let _heavy = crate::heavy();
    // 100 queued and 1 in flight per client: the one subscriber cannot keep up with
    // 20 publishers at 1 kHz each, and the broker drops what does not fit its queue.
    let m = Mosquitto::start("max_queued_messages 100\nmax_inflight_messages 1\nsys_interval 1")
        .unwrap();
    let spec = LoadSpec {
        clients: 20,
        interval: Duration::from_millis(1),
        duration: Duration::from_secs(2),
        qos: 1,
        drain: Duration::from_secs(3),
        broker: Some(m.url()),
        ..LoadSpec::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let r = rt
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(60),
                publish(&spec, Arc::new(AtomicBool::new(false))),
            )
            .await
        })
        .expect("load run ends by itself")
        .unwrap();
    let port = m.addr.port();
    // The broker publishes its counters every second; wait (bounded) until they show
    // the whole run: all that twin sent was received by the broker.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut broker_received = sys_counter(port, "$SYS/broker/publish/messages/received");
    while broker_received < r.messages.sent && Instant::now() < deadline {
        broker_received = sys_counter(port, "$SYS/broker/publish/messages/received");
    }
    let dropped = sys_counter(port, "$SYS/broker/publish/messages/dropped");
    assert_eq!(r.acked, r.messages.sent, "every publish was acknowledged");
    assert_eq!(broker_received, r.messages.sent);
    assert!(
        r.messages.lost > 0,
        "the overload must lose messages: {:?}",
        r.messages
    );
    assert_eq!(
        r.messages.lost, dropped,
        "twin's loss vs the broker's drops: {:?}",
        r.messages
    );
    assert_eq!(r.messages.received + dropped, r.messages.sent);
    assert_eq!(r.messages.duplicates, 0);
}
