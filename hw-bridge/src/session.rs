//! `twin mirror` over MQTT: one session subscribes to every device's topics and the
//! shadow update topic, hands each message to the [`Mirror`], and publishes what it
//! answers (native commands, shadow documents) from a separate task, so a full request
//! queue never blocks the polling loop.

use crate::MirrorConfig;
use crate::error::BridgeError;
use crate::mirror::{Mirror, Publish};
use crate::report::MirrorReport;
use rumqttc::{AsyncClient, ConnectionError, Event, Packet, QoS, SubscribeFilter};
use sim_core::report::BrokerInfo;
use sim_core::transport::backoff::Backoff;
use sim_core::transport::endpoint::Endpoint;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Largest message the mirror's session accepts. Past it the broker connection would be
/// dropped, so it is set high: a huge payload is read, counted as malformed and dropped.
pub const MAX_INCOMING: usize = 16 * 1024 * 1024;

/// How a mirror run goes.
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// The broker, as given (for the report).
    pub url: String,
    /// How to reach it.
    pub endpoint: Endpoint,
    /// Stop after this long; `None`: until stopped.
    pub duration: Option<Duration>,
    /// Give up when no connection is made in this time.
    pub connect_timeout: Duration,
    /// The session's client id.
    pub client_id: String,
}

/// Seconds since the Unix epoch, the mirror's clock.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Mirror until `duration` passes or `stop` is set; `notes` receives lines worth showing
/// a person as they happen.
pub async fn run(
    cfg: &MirrorConfig,
    opts: MirrorOptions,
    stop: Arc<AtomicBool>,
    notes: Option<mpsc::UnboundedSender<String>>,
) -> Result<MirrorReport, BridgeError> {
    let mut mo = opts.endpoint.options(opts.client_id.clone());
    mo.set_keep_alive(Duration::from_secs(30));
    mo.set_max_packet_size(MAX_INCOMING, 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(mo, 1024);
    let mut mirror = Mirror::new(cfg, unix_now());
    let filters: Vec<SubscribeFilter> = mirror
        .subscriptions()
        .into_iter()
        .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce))
        .collect();

    // Publishing awaits the request queue; it must not happen in the polling loop.
    let (pub_tx, mut pub_rx) = mpsc::channel::<Publish>(4096);
    let sender = {
        let client = client.clone();
        tokio::spawn(async move {
            while let Some(p) = pub_rx.recv().await {
                if client
                    .publish(p.topic, QoS::AtLeastOnce, p.retain, p.payload)
                    .await
                    .is_err()
                {
                    break;
                }
            }
        })
    };
    let send = |out: Vec<Publish>| {
        for p in out {
            if pub_tx.try_send(p).is_err() {
                tracing::warn!("mirror: outgoing queue full, a publish was dropped");
            }
        }
    };
    let flush_notes = |m: &mut Mirror| {
        for n in m.take_notes() {
            match &notes {
                Some(tx) => {
                    let _ = tx.send(n);
                }
                None => tracing::info!("{n}"),
            }
        }
    };

    let started = Instant::now();
    let deadline = opts.duration.map(|d| started + d);
    let mut ever_connected = false;
    let mut backoff = Backoff::default();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let interrupted = loop {
        if stop.load(Ordering::Relaxed) {
            break true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break false;
        }
        tokio::select! {
            ev = eventloop.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    if client.try_subscribe_many(filters.clone()).is_err() {
                        return Err(BridgeError::Broker { url: opts.url, message: "could not queue the subscriptions".into() });
                    }
                    if !ever_connected {
                        ever_connected = true;
                        send(mirror.documents());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    send(mirror.handle(&p.topic, &p.payload, p.retain, unix_now()));
                    flush_notes(&mut mirror);
                }
                Ok(_) => {}
                Err(e) => {
                    if let ConnectionError::ConnectionRefused(code) = e {
                        return Err(BridgeError::Broker { url: opts.url, message: format!("connection refused: {code:?}") });
                    }
                    if !ever_connected && started.elapsed() >= opts.connect_timeout {
                        return Err(BridgeError::Broker { url: opts.url, message: format!("unreachable for {:?}: {e}", opts.connect_timeout) });
                    }
                    tracing::warn!(error = %e, "mirror session lost; reconnecting");
                    tokio::time::sleep(backoff.next_wait()).await;
                }
            },
            _ = tick.tick() => {
                send(mirror.tick(unix_now()));
                flush_notes(&mut mirror);
            }
        }
    };
    let report = mirror.report(
        unix_now(),
        BrokerInfo {
            url: opts.url.clone(),
            embedded: false,
        },
        interrupted,
    );
    flush_notes(&mut mirror);
    // Let queued commands and documents go out before saying goodbye.
    drop(pub_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let flush = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        let _ = sender.await;
        let _ = client.disconnect().await;
        let _ = flush.await;
    })
    .await;
    Ok(report)
}
