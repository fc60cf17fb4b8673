//! `twin mirror` over MQTT: one session subscribes to every device's topics and the
//! shadow update topic, hands each message to the [`Mirror`], and publishes what it
//! answers (native commands, shadow documents) from a separate task, so a full request
//! queue never blocks the polling loop. Serial devices are bridged into the same session
//! by a task each ([`crate::serial::bridge`]): their lines come back to the mirror over
//! the broker like any device's telemetry, and their commands go out through it.

use crate::MirrorConfig;
use crate::error::BridgeError;
use crate::mirror::{Mirror, Publish};
use crate::report::MirrorReport;
use crate::serial::{self, BridgeEvent};
use rumqttc::{AsyncClient, ConnectionError, Event, Packet, QoS, SubscribeFilter};
use sim_core::report::BrokerInfo;
use sim_core::transport::backoff::Backoff;
use sim_core::transport::endpoint::Endpoint;
use std::collections::HashMap;
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
    let links = serial::links(cfg);
    let filters: Vec<SubscribeFilter> = mirror
        .subscriptions()
        .into_iter()
        .chain(links.iter().map(|l| l.topics.cmd.clone()))
        .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce))
        .collect();
    // Serial bridges: commands routed to each by topic; started once subscribed, so the
    // mirror hears their first lines.
    let mut cmd_routes: HashMap<String, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut unstarted = Vec::new();
    for l in &links {
        let (tx, rx) = mpsc::channel(serial::COMMAND_QUEUE);
        cmd_routes.insert(l.topics.cmd.clone(), tx);
        unstarted.push((l.clone(), rx));
    }
    let (bridge_tx, mut bridge_rx) = mpsc::channel::<BridgeEvent>(256);
    let mut bridges = Vec::new();

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
    let note = |n: String| match &notes {
        Some(tx) => {
            let _ = tx.send(n);
        }
        None => tracing::info!("{n}"),
    };
    let flush_notes = |m: &mut Mirror| {
        for n in m.take_notes() {
            note(n);
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
            // Biased, bridge events first: a serial line counted here is counted before
            // anything the bridge published after it comes back from the broker.
            biased;
            Some(ev) = bridge_rx.recv() => match ev {
                BridgeEvent::Note(n) => note(n),
                BridgeEvent::Malformed { device, source, why } => {
                    mirror.count_malformed(&device, &source, why);
                    flush_notes(&mut mirror);
                }
            },
            _ = tick.tick() => {
                send(mirror.tick(unix_now()));
                flush_notes(&mut mirror);
            }
            ev = eventloop.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    if client.try_subscribe_many(filters.clone()).is_err() {
                        return Err(BridgeError::Broker { url: opts.url, message: "could not queue the subscriptions".into() });
                    }
                    if !ever_connected {
                        ever_connected = true;
                        send(mirror.documents());
                        for (link, cmd_rx) in unstarted.drain(..) {
                            let bridge =
                                serial::bridge(link, client.clone(), cmd_rx, bridge_tx.clone());
                            bridges.push(tokio::spawn(bridge));
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(tx) = cmd_routes.get(p.topic.as_str()) {
                        // A retained command is stale; the mirror never retains one.
                        if !p.retain && tx.try_send(p.payload.to_vec()).is_err() {
                            tracing::warn!(topic = %p.topic,
                                "serial command queue full, a command was dropped");
                        }
                    } else {
                        send(mirror.handle(&p.topic, &p.payload, p.retain, unix_now()));
                        flush_notes(&mut mirror);
                    }
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
    // The ports close with the bridges: their devices are no longer mirrored online.
    for b in &bridges {
        b.abort();
    }
    if !bridges.is_empty() {
        for l in &links {
            send(vec![Publish {
                topic: l.topics.status.clone(),
                payload: b"offline".to_vec(),
                retain: true,
            }]);
        }
    }
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
