//! Leave the broker as the run found it: clear the retained messages a run created (each
//! device's `status`, `online` while it ran and `offline` after, by its session or its
//! last will), so a second run, a dashboard or Home Assistant does not see a fleet of
//! ghosts. Clearing a retained message is publishing an empty retained payload on its
//! topic (MQTT 3.1.1 §3.3.1.3).

use super::endpoint::Endpoint;
use super::session::until_disconnected;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::time::Duration;

/// Clear the retained message on every topic of `topics`; how many the broker
/// acknowledged within `timeout` (QoS 1, so each one is known to have arrived).
pub async fn clear(endpoint: &Endpoint, topics: &[String], timeout: Duration) -> usize {
    if topics.is_empty() {
        return 0;
    }
    let id = super::endpoint::own_client_id("clear");
    let mut o = endpoint.options(id);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let want = topics.len();
    // The event loop is polled by its own task: awaiting `publish()` in the polling task
    // deadlocks once rumqttc's request channel fills. It says goodbye once every PUBACK
    // is in, so no acknowledgement is lost to an early DISCONNECT.
    let closer = client.clone();
    let poll = tokio::spawn(async move {
        let mut acked = 0;
        while acked < want {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("clearing retained status messages: {e}");
                    return acked;
                }
            }
        }
        let _ = closer.try_disconnect();
        until_disconnected(&mut eventloop, Duration::from_secs(2)).await;
        acked
    });
    let abort = poll.abort_handle();
    let run = async {
        for t in topics {
            if client
                .publish(t, QoS::AtLeastOnce, true, Vec::new())
                .await
                .is_err()
            {
                break;
            }
        }
        poll.await.unwrap_or(0)
    };
    let cleared = tokio::time::timeout(timeout, run).await.unwrap_or(0);
    abort.abort();
    cleared
}
