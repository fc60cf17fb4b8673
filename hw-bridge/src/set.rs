//! The client side of a shadow update (`twin mirror set DEVICE key=value`): publish the
//! desired state to `twin/{fleet}/{device}/shadow/update`, wait for the running mirror to
//! accept (or refuse) it, then for the device to report it.

use crate::error::BridgeError;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::{Map, Value};
use sim_core::transport::endpoint::Endpoint;
use std::time::{Duration, Instant};

/// How a set ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SetOutcome {
    /// The mirror accepted it and the device reported every key: the shadow document
    /// that showed it.
    Converged {
        /// Shadow version after the device's report.
        version: u64,
        /// The reported state.
        reported: Map<String, Value>,
        /// From publishing the update to seeing it reported.
        elapsed: Duration,
    },
    /// Accepted, but the device did not report it in time: what is still in the delta.
    Unconfirmed {
        /// The version the update made.
        version: u64,
        /// Keys not reported.
        delta: Map<String, Value>,
    },
    /// The mirror refused it.
    Rejected {
        /// 400 bad request, 404 no such device, 409 version conflict.
        code: u64,
        /// Why.
        message: String,
    },
}

/// Publish `desired` for `device` and wait up to `timeout` for the outcome.
pub async fn set(
    endpoint: &Endpoint,
    url: &str,
    fleet: &str,
    device: &str,
    desired: &Map<String, Value>,
    version: Option<u64>,
    timeout: Duration,
) -> Result<SetOutcome, BridgeError> {
    let token = format!(
        "twin-set-{}-{}",
        std::process::id(),
        crate::session::unix_now()
    );
    let mut mo = endpoint.options(token.clone());
    mo.set_keep_alive(Duration::from_secs(10));
    let (client, mut eventloop) = AsyncClient::new(mo, 16);
    let mut s = Setter {
        client,
        url,
        base: format!("twin/{fleet}/{device}/shadow"),
        token,
        desired,
        version,
        started: Instant::now(),
        accepted: None,
        last_delta: desired.clone(),
    };
    let deadline = s.started + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, eventloop.poll()).await {
            Err(_) => break,
            Ok(Err(rumqttc::ConnectionError::ConnectionRefused(code))) => {
                return Err(s.broker(format!("connection refused: {code:?}")));
            }
            Ok(Err(e)) => {
                if s.accepted.is_none() && Instant::now() >= deadline {
                    return Err(s.broker(e.to_string()));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Ok(ev)) => {
                if let Some(outcome) = s.on_event(ev).await? {
                    return Ok(outcome);
                }
            }
        }
    }
    match s.accepted {
        Some(version) => Ok(SetOutcome::Unconfirmed {
            version,
            delta: s.last_delta,
        }),
        None => Err(s.broker(format!(
            "no mirror answered on {}/update within {timeout:?}: is `twin mirror` running for fleet \"{fleet}\" on this broker?",
            s.base
        ))),
    }
}

/// One set in progress: what was asked, and what the mirror answered so far.
struct Setter<'a> {
    /// The session; its event loop is polled by [`set`].
    client: AsyncClient,
    /// The broker URL, for errors.
    url: &'a str,
    /// `twin/{fleet}/{device}/shadow`.
    base: String,
    /// The client token that tells our answers from other clients'.
    token: String,
    /// The desired state asked for.
    desired: &'a Map<String, Value>,
    /// The shadow version the update expects, if any.
    version: Option<u64>,
    /// When the session started: `elapsed` is measured from it.
    started: Instant,
    /// The version the mirror accepted the update as, once it did.
    accepted: Option<u64>,
    /// Desired keys the device had not reported in the last document seen.
    last_delta: Map<String, Value>,
}

impl Setter<'_> {
    fn broker(&self, message: String) -> BridgeError {
        BridgeError::Broker {
            url: self.url.to_string(),
            message,
        }
    }

    /// Subscribe on connect, ask once subscribed, then read the answers; the outcome
    /// once there is one.
    async fn on_event(&mut self, ev: Event) -> Result<Option<SetOutcome>, BridgeError> {
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                self.client
                    .subscribe(format!("{}/update/+", self.base), QoS::AtLeastOnce)
                    .await
                    .map_err(|e| self.broker(e.to_string()))?;
            }
            // Subscribed to the answers: now ask, and then watch the document.
            Event::Incoming(Packet::SubAck(_)) if self.accepted.is_none() => {
                self.client
                    .publish(
                        format!("{}/update", self.base),
                        QoS::AtLeastOnce,
                        false,
                        crate::mirror::update_payload(self.desired, self.version, &self.token),
                    )
                    .await
                    .map_err(|e| self.broker(e.to_string()))?;
            }
            Event::Incoming(Packet::Publish(p)) => {
                let doc: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                return self.on_message(&p.topic, &doc).await;
            }
            _ => {}
        }
        Ok(None)
    }

    /// An answer to the update, or the shadow document.
    async fn on_message(
        &mut self,
        topic: &str,
        doc: &Value,
    ) -> Result<Option<SetOutcome>, BridgeError> {
        let ours = doc["client_token"] == Value::String(self.token.clone());
        if topic == format!("{}/update/rejected", self.base) && ours {
            return Ok(Some(SetOutcome::Rejected {
                code: doc["code"].as_u64().unwrap_or(0),
                message: doc["message"].as_str().unwrap_or_default().to_string(),
            }));
        }
        if topic == format!("{}/update/accepted", self.base) && ours {
            self.accepted = doc["version"].as_u64();
            self.client
                .subscribe(self.base.clone(), QoS::AtLeastOnce)
                .await
                .map_err(|e| self.broker(e.to_string()))?;
        }
        if topic == self.base
            && let Some(v) = self.accepted
            && doc["version"].as_u64().is_some_and(|d| d >= v)
        {
            return Ok(self.on_document(doc, v).await);
        }
        Ok(None)
    }

    /// A shadow document at or past the accepted version: converged once no desired key
    /// is left in its delta.
    async fn on_document(&mut self, doc: &Value, accepted: u64) -> Option<SetOutcome> {
        let delta = doc["state"]["delta"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        self.last_delta = self
            .desired
            .keys()
            .filter_map(|k| delta.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        if !self.last_delta.is_empty() {
            return None;
        }
        let _ = self.client.disconnect().await;
        Some(SetOutcome::Converged {
            version: doc["version"].as_u64().unwrap_or(accepted),
            reported: doc["state"]["reported"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            elapsed: self.started.elapsed(),
        })
    }
}
