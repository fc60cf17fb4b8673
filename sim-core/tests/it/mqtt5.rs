//! `twin load pub` and `twin load sub` over MQTT 5 against Mosquitto: the same exact
//! accounting as over MQTT 3.1.1.

use sim_core::load::{LoadSpec, Protocol, SubSpec, publish, subscribe};
use sim_core::test_support::Mosquitto;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[test]
fn mqtt5_publishers_and_subscribers_count_exactly_at_qos_1_and_2() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for qos in [1, 2] {
        let spec = LoadSpec {
            clients: 8,
            interval: Duration::from_millis(20),
            count: Some(25),
            qos,
            broker: Some(m.url()),
            protocol: Protocol::V5,
            topic: format!("v5-test/{qos}/%s/%i"),
            ..LoadSpec::default()
        };
        let sub = SubSpec {
            clients: 2,
            filter: format!("v5-test/{qos}/#"),
            qos,
            duration: Duration::from_secs(4),
            broker: Some(m.url()),
            protocol: Protocol::V5,
            ..SubSpec::default()
        };
        let (p, s) = rt.block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let subs = tokio::spawn(async move {
                subscribe(&sub, Arc::new(AtomicBool::new(false)), Some(tx)).await
            });
            tokio::time::timeout(Duration::from_secs(10), async {
                while let Some(iv) = rx.recv().await {
                    if iv.connections == 2 {
                        return;
                    }
                }
            })
            .await
            .expect("subscribers up within 10 s");
            let p = tokio::time::timeout(
                Duration::from_secs(30),
                publish(&spec, Arc::new(AtomicBool::new(false))),
            )
            .await
            .expect("publishers end by themselves")
            .unwrap();
            let s = tokio::time::timeout(Duration::from_secs(20), subs)
                .await
                .expect("subscribers end by themselves")
                .unwrap()
                .unwrap();
            (p, s)
        });
        assert_eq!(
            (p.messages.sent, p.messages.received, p.messages.lost),
            (200, 200, 0),
            "qos {qos}"
        );
        assert_eq!(p.acked, 200, "qos {qos}: every PUBACK/PUBCOMP counted");
        assert_eq!(p.ack_ms.unwrap().count, 200);
        assert_eq!(s.messages.distinct, 2 * 200, "qos {qos}: {:?}", s.messages);
        assert_eq!((s.messages.gaps, s.messages.duplicates), (0, 0));
    }
}
