//! Running `twin load sub`: the counting subscriber sessions, each with its own tally,
//! listening from the moment all are subscribed.

use crate::load::codec::connect::connect_packet;
use crate::load::codec::subscribe::subscribe_packet;
use crate::load::dial::{Target, bad_input};
use crate::load::error::LinkError;
use crate::load::observed::Observed;
use crate::load::report::BrokerLimits;
use crate::load::report::{SubCounts, SubReport};
use crate::load::sampler::{Interval, LoadCounters, Sampler, spawn_sampler};
use crate::load::shard::run_tag;
use crate::load::sub::spec::SubSpec;
use crate::load::sub::tally::{SharedTally, Tally};
use crate::load::subscriber::{SubFailure, SubSession, Subscribed};
use crate::measure::{Latency, histogram_to_base64, latency_histogram, round4};
use crate::run::RunError;
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// One subscriber of the run, as the driver holds it.
struct Listener {
    /// Its session's task.
    task: JoinHandle<()>,
    /// `Ok` at its first SUBACK, or why the broker refused it.
    ready: oneshot::Receiver<Result<Subscribed, SubFailure>>,
    /// Ends its session.
    release: watch::Sender<bool>,
    /// What it counted.
    tally: Arc<Mutex<Tally>>,
}

/// Subscribe `clients` sessions, listen for `duration` (or until `count` each, or
/// `stop`), and report.
pub async fn subscribe(
    spec: &SubSpec,
    stop: Arc<AtomicBool>,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
) -> Result<SubReport, RunError> {
    let sessions = spec.shard.range(spec.clients);
    let target = Target::open(spec.broker.as_deref(), &spec.security, sessions.len(), &[]).await?;
    let counters = Arc::new(LoadCounters::default());
    let interval_hist = Arc::new(Mutex::new(latency_histogram()));
    let sampler = intervals.map(|tx| sampler(&counters, &interval_hist, tx));
    let tag = run_tag();
    let observed = Arc::new(Observed::new(spec.qos));
    let mut listeners = Vec::with_capacity(sessions.len());
    for s in sessions.clone() {
        let shared = SharedTally {
            counters: counters.clone(),
            interval: interval_hist.clone(),
            count: spec.count,
        };
        listeners.push(listen(
            spec,
            &target,
            format!("twin-sub-{tag}-{s}"),
            shared,
            observed.clone(),
        )?);
    }
    let (subscribed, limits) = match wait_subscribed(&mut listeners, spec.connect_timeout, &stop)
        .await
    {
        Ok(n) => n,
        Err(why) => {
            for l in &listeners {
                l.task.abort();
            }
            return Err(match why {
                SubFailure::Connect(LinkError::Io(_) | LinkError::Closed) => why.error(&target.url),
                _ => RunError::Refused {
                    url: target.url,
                    why: refusal(&why),
                },
            });
        }
    };
    let listen_start = Instant::now();
    hold(&listeners, listen_start + spec.duration, &stop, &observed).await;
    let (counts, latency, publishers) = collect(listeners).await;
    drop(sampler);
    let wall = listen_start.elapsed().as_secs_f64();
    Ok(SubReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load sub".into(),
        broker: target.info(),
        shard: spec.shard.label(),
        clients: sessions.len() as u64,
        subscribed,
        filter: spec.filter.clone(),
        qos: spec.qos,
        qos_granted: observed.qos_granted(),
        downgraded: observed.downgraded(),
        wall_seconds: round4(wall),
        received_per_s: round4(counts.received as f64 / wall.max(1e-3)),
        messages: counts,
        publishers,
        latency_ms: Latency::of(&latency),
        histograms: BTreeMap::from([("latency".to_string(), histogram_to_base64(&latency))]),
        broker_limits: limits,
        broker_reasons: observed.reasons(),
        interrupted: stop.load(Ordering::Relaxed),
        fail_on: Vec::new(),
        stopped_by: observed.stopped_by(),
    })
}

/// The sampler: an [`Interval`] a second, with the latency recorded since the last.
fn sampler(
    counters: &Arc<LoadCounters>,
    interval_hist: &Arc<Mutex<Histogram<u64>>>,
    tx: mpsc::UnboundedSender<Interval>,
) -> Sampler {
    let h = interval_hist.clone();
    spawn_sampler(counters.clone(), Instant::now(), tx, move || {
        match h.lock() {
            Ok(mut h) => {
                let out = h.clone();
                h.reset();
                out
            }
            Err(_) => latency_histogram(),
        }
    })
}

/// Start one subscriber session, counting into its own tally.
fn listen(
    spec: &SubSpec,
    target: &Target,
    client_id: String,
    shared: SharedTally,
    observed: Arc<Observed>,
) -> Result<Listener, RunError> {
    let v5 = spec.protocol.is_v5();
    let keep_alive = Duration::from_secs(30);
    let connect =
        connect_packet(&client_id, 30, v5, target.ep.credentials(), None).map_err(bad_input)?;
    let session = SubSession {
        dial: target.dial(None, connect),
        v5,
        subscribe: subscribe_packet(1, &spec.filter, spec.qos, v5).map_err(bad_input)?,
        keep_alive,
        qos: spec.qos,
        shared: spec.filter.starts_with("$share/").then(|| {
            format!(
                "the filter {} is a shared subscription; subscribe without $share/",
                spec.filter
            )
        }),
        wildcard: spec.filter.contains(['+', '#']),
        observed,
        connect_timeout: spec.connect_timeout,
        wait_until: tokio::time::Instant::now() + spec.wait_for_broker,
        gate: None,
        counters: Some(shared.counters.clone()),
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    let (ready_tx, ready) = oneshot::channel();
    let (release, release_rx) = watch::channel(false);
    let counting = tally.clone();
    let task = tokio::spawn(async move {
        session
            .run(ready_tx, release_rx, move |batch| {
                shared.count(&counting, batch)
            })
            .await;
    });
    Ok(Listener {
        task,
        ready,
        release,
        tally,
    })
}

/// Wait until every subscriber is subscribed, the connect timeout passes, or `stop`:
/// how many are, and what the first one's CONNACK announced; `Err(why)` when the broker
/// refused one. Those not subscribed by then give up (released), as a session that
/// never got in.
async fn wait_subscribed(
    listeners: &mut [Listener],
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(u64, BrokerLimits), SubFailure> {
    let give_up = Instant::now() + timeout;
    let mut subscribed = 0;
    let mut limits = None;
    for l in listeners.iter_mut() {
        loop {
            match l.ready.try_recv() {
                Ok(Ok(s)) => {
                    subscribed += 1;
                    limits.get_or_insert_with(|| BrokerLimits::from(&s.connack));
                }
                Ok(Err(why)) => return Err(why),
                Err(oneshot::error::TryRecvError::Empty)
                    if Instant::now() < give_up && !stop.load(Ordering::Relaxed) =>
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(_) => {
                    let _ = l.release.send(true);
                }
            }
            break;
        }
    }
    Ok((subscribed, limits.unwrap_or_default()))
}

/// Listen until `until`, `stop`, the broker ended the run, or every session has ended
/// by itself (its count).
async fn hold(listeners: &[Listener], until: Instant, stop: &AtomicBool, kicked: &Observed) {
    while Instant::now() < until
        && !stop.load(Ordering::Relaxed)
        && !kicked.stopped()
        && listeners.iter().any(|l| !l.task.is_finished())
    {
        let left = until.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_millis(10))).await;
    }
}

/// End every session and add up their tallies: the counts, the latency, how many
/// distinct publishers all of them saw.
async fn collect(listeners: Vec<Listener>) -> (SubCounts, Histogram<u64>, u64) {
    let mut counts = SubCounts::default();
    let mut latency = latency_histogram();
    let mut publishers = HashSet::new();
    for l in listeners {
        let _ = l.release.send(true);
        let _ = l.task.await;
        let Ok(t) = l.tally.lock() else { continue };
        t.add_to(&mut counts, &mut latency);
        publishers.extend(t.publishers());
    }
    (counts, latency, publishers.len() as u64)
}

/// A refusal as `twin load sub` has always worded it (the words of the MQTT client it
/// used before: its names of the CONNACK codes, its "I/O:" before a TLS failure).
fn refusal(why: &SubFailure) -> String {
    match why {
        SubFailure::Connect(LinkError::Refused { code }) => {
            format!(
                "the broker refused the connection ({})",
                refused_code(*code)
            )
        }
        SubFailure::Connect(LinkError::Tls(e)) => {
            crate::transport::reach::tls_words(&e.to_string())
        }
        other => other.to_string(),
    }
}

/// A CONNACK code as a few words (3.1.1) or the MQTT 5 reason code's name.
fn refused_code(code: u8) -> &'static str {
    match code {
        1 => "protocol version refused",
        2 => "client id rejected",
        3 => "service unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        0x80 => "UnspecifiedError",
        0x81 => "MalformedPacket",
        0x82 => "ProtocolError",
        0x83 => "ImplementationSpecificError",
        0x84 => "UnsupportedProtocolVersion",
        0x85 => "ClientIdentifierNotValid",
        0x86 => "BadUserNamePassword",
        0x87 => "NotAuthorized",
        0x88 => "ServerUnavailable",
        0x89 => "ServerBusy",
        0x8A => "Banned",
        0x8C => "BadAuthenticationMethod",
        0x90 => "TopicNameInvalid",
        0x95 => "PacketTooLarge",
        0x97 => "QuotaExceeded",
        0x99 => "PayloadFormatInvalid",
        0x9A => "RetainNotSupported",
        0x9B => "QoSNotSupported",
        0x9C => "UseAnotherServer",
        0x9D => "ServerMoved",
        0x9F => "ConnectionRateExceeded",
        _ => "refused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_words() {
        let refused = |code| refusal(&SubFailure::Connect(LinkError::Refused { code }));
        assert_eq!(
            refused(4),
            "the broker refused the connection (bad user name or password)"
        );
        assert_eq!(
            refused(0x87),
            "the broker refused the connection (NotAuthorized)"
        );
        assert_eq!(
            refusal(&SubFailure::Subscription),
            "the broker refused the subscription"
        );
    }
}
