//! `twin load sub`: subscribers count another process's `twin load pub` traffic.

use sim_core::load::{LoadSpec, SubSpec, publish, subscribe};
use sim_core::transport::broker::EmbeddedBroker;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[test]
fn subscribers_count_every_message_of_a_publisher_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let broker = EmbeddedBroker::start(64).unwrap();
    let url = broker.url();
    let sub = SubSpec {
        clients: 3,
        filter: "sub-test/#".into(),
        qos: 1,
        duration: Duration::from_secs(6),
        broker: Some(url.clone()),
        ..SubSpec::default()
    };
    let report = rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let subs = tokio::spawn(async move {
            subscribe(&sub, Arc::new(AtomicBool::new(false)), Some(tx)).await
        });
        // Publish once all three are subscribed (the interval lines say so).
        tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(iv) = rx.recv().await {
                if iv.connections == 3 {
                    return;
                }
            }
        })
        .await
        .expect("subscribers up within 10 s");
        let spec = LoadSpec {
            clients: 4,
            interval: Duration::from_millis(50),
            count: Some(10),
            topic: "sub-test/%s/%i".into(),
            broker: Some(url.clone()),
            ..LoadSpec::default()
        };
        let p = publish(&spec, Arc::new(AtomicBool::new(false)))
            .await
            .unwrap();
        assert_eq!(p.messages.received, 40);
        // And one payload that is not a load message.
        let (c, mut el) = rumqttc::AsyncClient::new(
            rumqttc::MqttOptions::new("sub-test-raw", "127.0.0.1", broker.addr.port()),
            8,
        );
        c.publish("sub-test/raw", rumqttc::QoS::AtLeastOnce, false, "hello")
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) = el.poll().await {
                    return;
                }
            }
        })
        .await
        .expect("raw publish acknowledged");
        tokio::time::timeout(Duration::from_secs(20), subs)
            .await
            .expect("subscribers stop by themselves")
            .unwrap()
            .unwrap()
    });
    assert_eq!(report.subscribed, 3);
    let m = report.messages;
    // Each subscriber gets all 40 load messages and the raw one.
    assert_eq!(m.received, 3 * 41, "{m:?}");
    assert_eq!(m.distinct, 3 * 40);
    assert_eq!(m.untimed, 3);
    assert_eq!((m.duplicates, m.gaps), (0, 0));
    assert_eq!(report.publishers, 4);
    assert_eq!(report.latency_ms.unwrap().count, 120);
}
