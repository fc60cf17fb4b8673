//! Replay: publish a recording again, each message at its original offset from the
//! first divided by the speed (or as fast as the broker takes them), at its QoS, retained
//! as it was, topics rewritten by `--map`. The same file and speed publish the same
//! bytes in the same order.

use super::line::Line;
use super::rewrite::Rewrite;
use crate::error::RunError;
use crate::transport::endpoint::Endpoint;
use crate::transport::reach::{self, ProbeLimits};
use rumqttc::{AsyncClient, Event, Packet};
use std::io::BufRead;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to replay, where and how fast.
#[derive(Debug, Clone)]
pub struct ReplaySpec {
    /// The broker, as given.
    pub url: String,
    /// How to reach it.
    pub endpoint: Endpoint,
    /// Recorded seconds per wall second; `None` is as fast as the broker takes them.
    pub speed: Option<f64>,
    /// Topic rewrites, the first that matches applies.
    pub map: Vec<Rewrite>,
    /// Connect and wait limits.
    pub limits: ProbeLimits,
    /// How long to wait for the broker's acknowledgements after the last message.
    pub drain: Duration,
}

/// What a replay published.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ReplayReport {
    /// Messages published.
    pub sent: u64,
    /// Of those at QoS 1 or 2, acknowledged by the broker.
    pub acked: u64,
    /// Published at QoS 1 or 2.
    pub acks_expected: u64,
    /// Retained messages among them.
    pub retained: u64,
    /// Topics rewritten by `--map`.
    pub rewritten: u64,
    /// The recording's span, seconds (first to last message).
    pub recorded_seconds: f64,
    /// Wall seconds the replay took.
    pub seconds: f64,
    /// A signal ended it early.
    pub interrupted: bool,
}

/// Live counts, for a progress line.
#[derive(Debug, Default)]
pub struct ReplayCounters {
    /// Messages published so far.
    pub sent: AtomicU64,
}

/// Publish every line of `input` (a recording) on the spec's broker.
pub async fn replay(
    spec: &ReplaySpec,
    input: &mut dyn BufRead,
    stop: Arc<AtomicBool>,
    counters: Arc<ReplayCounters>,
) -> Result<ReplayReport, RunError> {
    reach::probe(&spec.url, &spec.endpoint, spec.limits, &stop).await?;
    let id = crate::transport::endpoint::own_client_id("replay");
    let mut o = spec.endpoint.options(id);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(crate::wire::MQTT_MAX_PACKET, crate::wire::MQTT_MAX_PACKET);
    let (client, eventloop) = AsyncClient::new(o, 1024);
    let acked = Arc::new(AtomicU64::new(0));
    let poller = tokio::spawn(poll(eventloop, acked.clone()));
    let started = Instant::now();
    let mut report = ReplayReport::default();
    let mut first: Option<f64> = None;
    for (n, text) in input.lines().enumerate() {
        let text = text?;
        if text.trim().is_empty() {
            continue;
        }
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
            break;
        }
        let line: Line = serde_json::from_str(&text)
            .map_err(|e| RunError::BadInput(format!("recording line {}: {e}", n + 1)))?;
        let t0 = *first.get_or_insert(line.t);
        report.recorded_seconds = (line.t - t0).max(report.recorded_seconds);
        if let Some(speed) = spec.speed {
            let due = started + Duration::from_secs_f64(((line.t - t0) / speed).max(0.0));
            tokio::time::sleep_until(due.into()).await;
        }
        publish(&client, spec, &line, &mut report)
            .await
            .map_err(|e| RunError::BadInput(format!("recording line {}: {e}", n + 1)))?;
        counters.sent.store(report.sent, Ordering::Relaxed);
    }
    let until = tokio::time::Instant::now() + spec.drain;
    while acked.load(Ordering::Relaxed) < report.acks_expected
        && tokio::time::Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    report.acked = acked.load(Ordering::Relaxed);
    report.seconds = crate::measure::round4(started.elapsed().as_secs_f64());
    report.recorded_seconds = crate::measure::round4(report.recorded_seconds);
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), poller).await;
    Ok(report)
}

/// Publish one line (its topic rewritten by the first rule that matches).
async fn publish(
    client: &AsyncClient,
    spec: &ReplaySpec,
    line: &Line,
    report: &mut ReplayReport,
) -> Result<(), String> {
    let payload = line.bytes()?;
    let topic = match spec.map.iter().find_map(|r| r.apply(&line.topic)) {
        Some(t) => {
            report.rewritten += 1;
            t
        }
        None => line.topic.clone(),
    };
    client
        .publish(topic, crate::run::qos_of(line.qos), line.retain, payload)
        .await
        .map_err(|e| e.to_string())?;
    report.sent += 1;
    report.retained += u64::from(line.retain);
    report.acks_expected += u64::from(line.qos > 0);
    Ok(())
}

/// Poll the client's event loop, counting the broker's PUBACKs and PUBCOMPs.
async fn poll(mut eventloop: rumqttc::EventLoop, acked: Arc<AtomicU64>) {
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) => {
                acked.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("replaying: {e}; connecting again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
