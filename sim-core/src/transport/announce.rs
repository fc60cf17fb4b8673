//! Retained announcements a convention asks of a run (Home Assistant's discovery
//! configs): published once every session is up, published again each time the
//! convention's birth message arrives (Home Assistant restarted and forgot them), and
//! cleared with the run's other retained messages at its end. What they say is the
//! convention's business (`hw-bridge`); this module only carries them.

use super::endpoint::Endpoint;
use super::shutdown::Shutdown;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use std::time::Duration;

/// What a run announces.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Announce {
    /// Retained messages: topic and payload.
    pub retained: Vec<(String, Vec<u8>)>,
    /// A topic and payload that ask for them again: Home Assistant's birth,
    /// `homeassistant/status` `online`.
    pub rebirth: Option<(String, Vec<u8>)>,
}

impl Announce {
    /// The topics to clear at the end.
    pub fn topics(&self) -> impl Iterator<Item = &String> {
        self.retained.iter().map(|(t, _)| t)
    }
}

/// Publish `a`, and again on each rebirth message, until `shutdown`; how many times
/// the whole set was handed to the client.
pub async fn run(endpoint: Endpoint, a: Announce, mut shutdown: Shutdown) -> u64 {
    let id = super::endpoint::own_client_id("announce");
    let mut o = endpoint.options(id);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_clean_session(true);
    let (client, mut eventloop) = AsyncClient::new(o, 256);
    let a = std::sync::Arc::new(a);
    let mut rounds = Vec::new();
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            () = shutdown.recv() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Some((topic, _)) = &a.rebirth {
                    let _ = client.try_subscribe(topic, QoS::AtLeastOnce);
                }
                rounds.push(tokio::spawn(publish_all(client.clone(), a.clone())));
            }
            Ok(Event::Incoming(Packet::Publish(p)))
                if a.rebirth
                    .as_ref()
                    .is_some_and(|(t, m)| *t == p.topic && m[..] == p.payload[..]) =>
            {
                rounds.push(tokio::spawn(publish_all(client.clone(), a.clone())));
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("announcing: {e}; connecting again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    let mut published = 0;
    for r in rounds {
        r.abort();
        published += u64::from(r.await.unwrap_or(false));
    }
    let _ = client.try_disconnect();
    super::session::until_disconnected(&mut eventloop, Duration::from_secs(1)).await;
    published
}

/// Hand every retained message to the client (awaiting room in its queue, which the
/// caller's polling empties); true once all were handed on.
async fn publish_all(client: AsyncClient, a: std::sync::Arc<Announce>) -> bool {
    for (topic, payload) in &a.retained {
        if client
            .publish(topic, QoS::AtLeastOnce, true, payload.clone())
            .await
            .is_err()
        {
            return false;
        }
    }
    true
}
