//! The controller: one more MQTT session that publishes the UI's commands on device
//! command topics, as any controller would, and forwards steering to the sim.

use super::options::Control;
use crate::sim::Steer;
use crate::transport::endpoint::Endpoint;
use crate::transport::shutdown::Shutdown;
use rumqttc::{AsyncClient, QoS};
use std::time::Duration;
use tokio::sync::mpsc;

/// Publish UI commands on device command topics, until the UI drops its end or the run
/// is over (`shutdown`). Its event loop is polled by its own task; this one only awaits
/// `publish`.
pub(super) async fn controller(
    endpoint: Endpoint,
    qos: QoS,
    topics: Vec<String>,
    mut rx: mpsc::Receiver<Control>,
    steer: mpsc::Sender<Steer>,
    mut shutdown: Shutdown,
) {
    let id = crate::transport::endpoint::own_client_id("controller");
    let mut o = endpoint.options(id);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let poller = tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    loop {
        let c = tokio::select! {
            c = rx.recv() => c,
            _ = shutdown.recv() => None,
        };
        let Some(c) = c else { break };
        match c {
            Control::Command { device, payload } => {
                if let Some(topic) = topics.get(device)
                    && let Err(e) = client.publish(topic, qos, false, payload).await
                {
                    tracing::warn!(error = %e, "controller could not publish a command");
                }
            }
            Control::Steer(s) => {
                if steer.try_send(s).is_err() {
                    tracing::warn!("the sim is not taking steering now; action dropped");
                }
            }
        }
    }
    poller.abort();
}
