//! The socket side of ingest: one MQTT session that subscribes to the fleet's topics and
//! hands every message to the counting task without looking inside it, so a slow
//! detector never delays reading the socket or acknowledging what arrived.

use super::count::{Arrival, count_batch, say_all_unsaid};
use super::shared::Ingest;
use super::topics::filter_of;
use crate::wire::unix_us;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// First wait after a lost connection: ingest comes back faster than a device session
/// (whose backoff starts at [`crate::transport::backoff::FIRST`]), so that a broker
/// restart loses as little telemetry as possible.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);
/// The longest wait between two connection attempts.
const RECONNECT_CAP: Duration = Duration::from_secs(2);

/// Most arrivals waiting for the counting task. Beyond it the socket task waits, and so
/// does the broker's queue for this session; with the run's flow window far fewer are
/// ever in flight.
const HANDOFF: usize = 16 * 1024;

/// Most arrivals counted under one lock.
const BATCH: usize = 512;

/// Connect, subscribe, then hand messages to the counting task until `shutdown` fires;
/// returns once everything handed on is counted. `ready` fires once the subscriptions
/// are acknowledged.
pub async fn run(
    ingest: Ingest,
    endpoint: crate::transport::endpoint::Endpoint,
    qos: QoS,
    ready: oneshot::Sender<()>,
    mut shutdown: crate::transport::shutdown::Shutdown,
) {
    let client_id = crate::transport::endpoint::own_client_id("ingest");
    let mut o = endpoint.options(client_id);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    // Read whatever a broker may send (MQTT's largest packet): a message over the limit
    // would otherwise cost the connection, and a retained one every connection after
    // it. An oversized payload is dropped as soon as it is read, and counted.
    o.set_max_packet_size(crate::wire::MQTT_MAX_PACKET, 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let mut ready = Some(ready);
    let mut backoff =
        crate::transport::backoff::Backoff::with_bounds(RECONNECT_FIRST, RECONNECT_CAP);
    let mut pending_subacks = 0;
    let topics = ingest.topics.clone();
    let (tx, rx) = mpsc::channel(HANDOFF);
    let counting = tokio::spawn(count(ingest, rx));
    loop {
        let ev = tokio::select! {
            // Stopping wins over a ready event.
            biased;
            _ = shutdown.recv() => {
                // Say DISCONNECT, and poll until it is written: a broker then logs a
                // clean goodbye, not "closed its connection".
                let _ = client.try_disconnect();
                let drain = Duration::from_secs(2);
                crate::transport::session::until_disconnected(&mut eventloop, drain).await;
                drop(tx);
                let _ = counting.await;
                return;
            }
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                let _ = client.try_subscribe(filter_of(&topics.telemetry), qos);
                // Statuses at QoS 0: a broker queues at most so many QoS 1 messages for a
                // session (Mosquitto: 1,000) and drops the rest, and a fleet's `online`
                // burst at connect would fill that queue before the first telemetry. At
                // QoS 0 a connected session gets them all, and the queue is left to the
                // telemetry the flow window bounds.
                let _ = client.try_subscribe(filter_of(&topics.status), QoS::AtMostOnce);
                pending_subacks = 2;
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                pending_subacks -= 1;
                if pending_subacks == 0
                    && let Some(r) = ready.take()
                {
                    let _ = r.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let arrival = Arrival::new(publish, unix_us());
                if tx.send(arrival).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "ingest connection error; retrying");
                tokio::select! {
                    _ = shutdown.recv() => {}
                    _ = tokio::time::sleep(backoff.next_wait()) => {}
                }
            }
        }
    }
}

/// The counting task: every arrival, in order, a batch per lock.
async fn count(ingest: Ingest, mut rx: mpsc::Receiver<Arrival>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        count_batch(&ingest, &batch);
        batch.clear();
    }
    say_all_unsaid(&ingest);
}
