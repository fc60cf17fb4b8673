//! Listening: every topic a broker carries, for a while, with its last message.

use crate::error::BridgeError;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use sim_core::transport::endpoint::Endpoint;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The last message seen on one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Topic.
    pub topic: String,
    /// Last payload (at most [`KEEP`] bytes of it).
    pub payload: Vec<u8>,
    /// Messages seen on it.
    pub count: u64,
}

/// Bytes of each payload kept for classification.
pub const KEEP: usize = 4096;

/// Subscribe to `#` for `duration` and collect the last message of every topic.
pub async fn listen(
    endpoint: &Endpoint,
    url: &str,
    duration: Duration,
) -> Result<Vec<Seen>, BridgeError> {
    let mut mo = endpoint.options(format!("twin-discover-{}", std::process::id()));
    mo.set_keep_alive(Duration::from_secs(30));
    mo.set_max_packet_size(crate::session::MAX_INCOMING, 64 * 1024);
    let (client, mut eventloop) = AsyncClient::new(mo, 16);
    let end = Instant::now() + duration;
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut connected = false;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, eventloop.poll()).await {
            Err(_) => break,
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                connected = true;
                client
                    .subscribe("#", QoS::AtMostOnce)
                    .await
                    .map_err(|e| BridgeError::Broker {
                        url: url.into(),
                        message: e.to_string(),
                    })?;
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                let e = seen.entry(p.topic.clone()).or_insert_with(|| Seen {
                    topic: p.topic.clone(),
                    payload: Vec::new(),
                    count: 0,
                });
                e.count += 1;
                e.payload = p.payload[..p.payload.len().min(KEEP)].to_vec();
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                if !connected {
                    return Err(BridgeError::Broker {
                        url: url.into(),
                        message: e.to_string(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let _ = client.disconnect().await;
    Ok(seen.into_values().collect())
}
