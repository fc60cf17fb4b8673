//! Record: subscribe to filters on a broker and write each message as a line of NDJSON,
//! flushed every second (a kill loses at most the last second), until a duration, a
//! count or a signal.

use super::line::Line;
use crate::error::RunError;
use crate::transport::endpoint::Endpoint;
use crate::transport::reach::{self, ProbeLimits};
use rumqttc::{AsyncClient, Event, Packet};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    /// The broker, as given.
    pub url: String,
    /// How to reach it.
    pub endpoint: Endpoint,
    /// Topic filters.
    pub filters: Vec<String>,
    /// The subscription's QoS.
    pub qos: u8,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Stop after this many messages.
    pub count: Option<u64>,
    /// Connect and wait limits.
    pub limits: ProbeLimits,
}

/// What a recording took.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RecordReport {
    /// Messages written.
    pub messages: u64,
    /// Payload bytes written (before base64).
    pub payload_bytes: u64,
    /// Seconds recorded.
    pub seconds: f64,
    /// A signal ended it early.
    pub interrupted: bool,
}

/// Live counts, for a progress line.
#[derive(Debug, Default)]
pub struct RecordCounters {
    /// Messages written so far.
    pub messages: AtomicU64,
}

/// Record into `out` until the spec's duration or count, or `stop`.
pub async fn record(
    spec: &RecordSpec,
    out: &mut dyn std::io::Write,
    stop: Arc<AtomicBool>,
    counters: Arc<RecordCounters>,
) -> Result<RecordReport, RunError> {
    reach::probe(&spec.url, &spec.endpoint, spec.limits, &stop).await?;
    let id = crate::transport::endpoint::own_client_id("record");
    let mut o = spec.endpoint.options(id);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(crate::wire::MQTT_MAX_PACKET, 256 * 1024);
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let q = crate::run::qos_of(spec.qos);
    let started = Instant::now();
    let deadline = spec.duration.map(|d| tokio::time::Instant::now() + d);
    let mut report = RecordReport::default();
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let mut out = std::io::BufWriter::new(out);
    loop {
        if stop.load(Ordering::Relaxed) {
            report.interrupted = true;
            break;
        }
        if spec.count.is_some_and(|n| report.messages >= n) {
            break;
        }
        let until = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = flush.tick() => {
                out.flush()?;
                continue;
            }
            () = until => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                for f in &spec.filters {
                    let _ = client.try_subscribe(f.clone(), q);
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let t = crate::wire::unix_us() as f64 / 1e6;
                let line = Line::new(t, &p.topic, p.qos as u8, p.retain, &p.payload);
                line.write_to(&mut out)?;
                report.messages += 1;
                report.payload_bytes += p.payload.len() as u64;
                counters.messages.store(report.messages, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!("recording: {e}; connecting again");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    out.flush()?;
    let _ = client.try_disconnect();
    crate::transport::session::until_disconnected(&mut eventloop, Duration::from_secs(1)).await;
    report.seconds = crate::measure::round4(started.elapsed().as_secs_f64());
    Ok(report)
}
