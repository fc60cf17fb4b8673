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
    let broker = |message: String| BridgeError::Broker {
        url: url.to_string(),
        message,
    };
    let token = format!(
        "twin-set-{}-{}",
        std::process::id(),
        crate::session::unix_now()
    );
    let mut mo = endpoint.options(token.clone());
    mo.set_keep_alive(Duration::from_secs(10));
    let (client, mut eventloop) = AsyncClient::new(mo, 16);
    let base = format!("twin/{fleet}/{device}/shadow");
    let started = Instant::now();
    let deadline = started + timeout;
    let mut accepted: Option<u64> = None;
    let mut last_delta = desired.clone();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = match tokio::time::timeout(left, eventloop.poll()).await {
            Err(_) => break,
            Ok(Err(rumqttc::ConnectionError::ConnectionRefused(code))) => {
                return Err(broker(format!("connection refused: {code:?}")));
            }
            Ok(Err(e)) => {
                if accepted.is_none() && Instant::now() >= deadline {
                    return Err(broker(e.to_string()));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Ok(Ok(ev)) => ev,
        };
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                client
                    .subscribe(format!("{base}/update/+"), QoS::AtLeastOnce)
                    .await
                    .map_err(|e| broker(e.to_string()))?;
            }
            // Subscribed to the answers: now ask, and then watch the document.
            Event::Incoming(Packet::SubAck(_)) if accepted.is_none() => {
                client
                    .publish(
                        format!("{base}/update"),
                        QoS::AtLeastOnce,
                        false,
                        crate::mirror::update_payload(desired, version, &token),
                    )
                    .await
                    .map_err(|e| broker(e.to_string()))?;
            }
            Event::Incoming(Packet::Publish(p)) => {
                let doc: Value = serde_json::from_slice(&p.payload).unwrap_or(Value::Null);
                if p.topic == format!("{base}/update/rejected")
                    && doc["client_token"] == Value::String(token.clone())
                {
                    return Ok(SetOutcome::Rejected {
                        code: doc["code"].as_u64().unwrap_or(0),
                        message: doc["message"].as_str().unwrap_or_default().to_string(),
                    });
                }
                if p.topic == format!("{base}/update/accepted")
                    && doc["client_token"] == Value::String(token.clone())
                {
                    accepted = doc["version"].as_u64();
                    client
                        .subscribe(base.clone(), QoS::AtLeastOnce)
                        .await
                        .map_err(|e| broker(e.to_string()))?;
                }
                if p.topic == base
                    && let Some(v) = accepted
                    && doc["version"].as_u64().is_some_and(|d| d >= v)
                {
                    let delta = doc["state"]["delta"]
                        .as_object()
                        .cloned()
                        .unwrap_or_default();
                    last_delta = desired
                        .keys()
                        .filter_map(|k| delta.get(k).map(|v| (k.clone(), v.clone())))
                        .collect();
                    if last_delta.is_empty() {
                        let _ = client.disconnect().await;
                        return Ok(SetOutcome::Converged {
                            version: doc["version"].as_u64().unwrap_or(v),
                            reported: doc["state"]["reported"]
                                .as_object()
                                .cloned()
                                .unwrap_or_default(),
                            elapsed: started.elapsed(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    match accepted {
        Some(version) => Ok(SetOutcome::Unconfirmed {
            version,
            delta: last_delta,
        }),
        None => Err(broker(format!(
            "no mirror answered on {base}/update within {timeout:?}: is `twin mirror` running for fleet \"{fleet}\" on this broker?"
        ))),
    }
}
