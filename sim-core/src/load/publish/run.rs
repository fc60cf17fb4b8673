//! Running `twin load pub`: the counting subscribers first, then the publishing
//! sessions on their schedules, then the drain and the report.

use crate::load::buffer::Dropped;
use crate::load::codec::connect::connect_packet;
use crate::load::codec::subscribe::subscribe_packet;
use crate::load::dial::{Dial, Tls, resolve};
use crate::load::pacer::Pacer;
use crate::load::payload::{HEADER, decode};
use crate::load::process::process_cpu_seconds;
use crate::load::publish::spec::{DEFAULT_RECONNECT_RATE, LoadSpec, PERSISTENT_EXPIRY_S};
use crate::load::publish::tally::SubState;
use crate::load::publish::topics::{filter_of, topic_of};
use crate::load::publisher::{PubSession, RunHistograms};
use crate::load::report::{ConnectCounts, LoadReport};
use crate::load::sampler::{Interval, LoadCounters, spawn_sampler};
use crate::load::shard::run_tag;
use crate::load::subscriber::{SubFailure, SubGate, SubSession};
use crate::measure::{Latency, SeqTally, histogram_to_base64, latency_histogram, round4};
use crate::run::RunError;
use crate::transport::broker::EmbeddedBroker;
use crate::transport::endpoint::Endpoint;
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Run a publish load and report.
pub async fn publish(spec: &LoadSpec, stop: Arc<AtomicBool>) -> Result<LoadReport, RunError> {
    publish_counted(spec, stop, None).await
}

/// As [`publish`], sending an [`Interval`] each second to `intervals`.
pub async fn publish_counted(
    spec: &LoadSpec,
    stop: Arc<AtomicBool>,
    intervals: Option<mpsc::UnboundedSender<Interval>>,
) -> Result<LoadReport, RunError> {
    let sessions = spec.shard.range(spec.clients);
    let dps = spec.devices_per_session.max(1);
    let dev_base = sessions.start * dps;
    let n_devices = sessions.len() * dps;
    if dev_base + n_devices > u32::MAX as usize {
        return Err(RunError::BadInput(format!(
            "{} devices do not fit the 32-bit device index",
            spec.clients * dps
        )));
    }
    let (embedded, url) = match &spec.broker {
        Some(u) => (false, u.clone()),
        None => (true, EmbeddedBroker::start(sessions.len() + 16)?.url()),
    };
    let ep = Endpoint::new(&url, &spec.security).map_err(RunError::BadInput)?;
    let counters = Arc::new(LoadCounters::default());
    let cpu0 = process_cpu_seconds();
    let state = Arc::new(Mutex::new(SubState {
        tallies: vec![SeqTally::default(); n_devices],
        actual: latency_histogram(),
        intended: latency_histogram(),
        interval: latency_histogram(),
        malformed: 0,
        foreign: 0,
    }));
    let tag = run_tag();

    // Subscriber first, so nothing is missed.
    let filter = filter_of(&spec.topic, spec.shard.index);
    let keep_alive = Duration::from_secs(30);
    // Several subscribers share the subscription (`$share`): each has its own in-flight
    // window at the broker, so delivery is not held to one session's window.
    let n_subs = spec.subscribers.max(1);
    let sub_filter = if n_subs > 1 {
        format!("$share/twin-{tag}/{filter}")
    } else {
        filter.clone()
    };
    let broker = resolve(&ep.host, ep.port, &spec.source_ips).await?;
    let tls = Tls::of(&ep)?.map(Arc::new);
    let keep_alive_s = keep_alive.as_secs() as u16;
    let v5 = spec.protocol.is_v5();
    let persistent = spec.persistent.then_some(PERSISTENT_EXPIRY_S);
    // Open while every counting subscriber is subscribed.
    let gate = Arc::new(SubGate {
        need: n_subs,
        up: std::sync::atomic::AtomicUsize::new(0),
        tx: tokio::sync::watch::channel(false).0,
    });
    let subscribe = subscribe_packet(1, &sub_filter, spec.qos, v5)
        .map_err(|e| RunError::BadInput(e.to_string()))?;
    let (sub_release, sub_release_rx) = tokio::sync::watch::channel(false);
    let (mut sub_tasks, mut readies) = (Vec::new(), Vec::new());
    for i in 0..n_subs {
        let session = SubSession {
            dial: Dial {
                broker,
                source: None,
                connect: connect_packet(
                    &format!("twin-load-sub-{tag}-{i}"),
                    keep_alive_s,
                    v5,
                    ep.credentials(),
                    persistent,
                )
                .map_err(|e| RunError::BadInput(e.to_string()))?,
                tls: tls.clone(),
            },
            v5,
            subscribe: subscribe.clone(),
            keep_alive,
            connect_timeout: spec.connect_timeout,
            gate: Some(gate.clone()),
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        readies.push(ready_rx);
        let state = state.clone();
        let counters = counters.clone();
        sub_tasks.push(tokio::spawn(session.run(
            ready_tx,
            sub_release_rx.clone(),
            move |batch| {
                let now = unix_us();
                let Ok(mut st) = state.lock() else { return };
                let mut fresh = 0;
                for payload in batch.iter() {
                    let Some((publisher, seq, intended, sent)) = decode(payload) else {
                        st.malformed += 1;
                        continue;
                    };
                    let Some(d) = (publisher as usize)
                        .checked_sub(dev_base)
                        .filter(|d| *d < n_devices)
                    else {
                        st.foreign += 1;
                        continue;
                    };
                    if !st.tallies[d].record(seq).duplicate {
                        let lat = now.saturating_sub(sent).max(1);
                        st.actual.saturating_record(lat);
                        st.interval.saturating_record(lat);
                        st.intended
                            .saturating_record(now.saturating_sub(intended).max(1));
                        fresh += 1;
                    }
                }
                counters.received.fetch_add(fresh, Ordering::Relaxed);
            },
        )));
    }
    // A broker not there yet is retried (with backoff) until the connect timeout.
    let ready_by = tokio::time::Instant::now() + spec.connect_timeout;
    for ready_rx in readies {
        match tokio::time::timeout_at(ready_by, ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(SubFailure::Refused(why)))) => {
                return Err(RunError::Refused { url, why });
            }
            _ => {
                return Err(RunError::Unreachable {
                    url,
                    what: "the load subscriber could not connect and subscribe".into(),
                    secs: spec.connect_timeout.as_secs_f64(),
                });
            }
        }
    }

    // The sampler: one `Interval` a second.
    let run_start = Instant::now();
    let sampler = intervals.map(|tx| {
        let state = state.clone();
        spawn_sampler(counters.clone(), run_start, tx, move || {
            match state.lock() {
                Ok(mut st) => {
                    let h = st.interval.clone();
                    st.interval.reset();
                    h
                }
                Err(_) => latency_histogram(),
            }
        })
    });

    // Publishing sessions: one task each, owning its socket (see `lean`).
    let interval_us = spec.interval.as_micros().max(1) as u64;
    let per_device = {
        let by_time = (spec.duration.as_micros() as u64).div_ceil(interval_us);
        spec.count.map_or(by_time, |c| c.min(by_time))
    };
    // A session's messages, round-robin over its devices, one every `step` µs.
    let step_us = (interval_us / dps as u64).max(1);
    let per_session = per_device * dps as u64;
    let (release_tx, release_rx) = tokio::sync::watch::channel(false);
    let connecting = Arc::new(Semaphore::new(256));
    let hists = Arc::new(RunHistograms::default());
    let pacer = Arc::new(Pacer::new(
        spec.ramp_per_s.unwrap_or(DEFAULT_RECONNECT_RATE),
    ));
    let gap = spec
        .ramp_per_s
        .map(|r| Duration::from_secs_f64(1.0 / r.max(0.001)));
    let mut tasks = Vec::with_capacity(sessions.len());
    for (k, s) in sessions.clone().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if let Some(gap) = gap {
            tokio::time::sleep_until((run_start + gap * k as u32).into()).await;
        }
        let client_id = format!("twin-load-{tag}-{s}");
        let connect = connect_packet(&client_id, keep_alive_s, v5, ep.credentials(), persistent)
            .map_err(|e| RunError::BadInput(e.to_string()))?;
        let topics = (0..dps)
            .map(|j| topic_of(&spec.topic, s * dps + j, &client_id, spec.shard.index).into_bytes())
            .collect();
        let bodies = spec.payload.as_ref().map(|t| {
            (0..dps)
                .map(|j| topic_of(t, s * dps + j, &client_id, spec.shard.index))
                .collect()
        });
        let session = PubSession {
            dial: Dial {
                broker,
                source: (!spec.source_ips.is_empty())
                    .then(|| spec.source_ips[s % spec.source_ips.len()]),
                connect,
                tls: tls.clone(),
            },
            v5,
            qos: spec.qos,
            retain: spec.retain,
            size: spec.size,
            topics,
            bodies,
            first_device: (s * dps) as u32,
            messages: per_session,
            step_us,
            // Spread sessions over one step so they do not fire in lockstep.
            offset_us: step_us * k as u64 / sessions.len().max(1) as u64,
            keep_alive,
            connect_timeout: spec.connect_timeout,
            inflight: spec.inflight.max(1),
            buffer: spec.buffer.max(1).saturating_mul(dps),
            buffer_bytes: spec.buffer_bytes.max(1).saturating_mul(dps),
            policy: spec.buffer_policy,
            gate: gate.tx.subscribe(),
            pacer: pacer.clone(),
        };
        tasks.push(tokio::spawn(session.run(
            counters.clone(),
            stop.clone(),
            release_rx.clone(),
            connecting.clone(),
            hists.clone(),
        )));
    }
    // Every session has its schedule written (or gave up) when `sent` stops short of
    // nothing: wait for the schedule's end, then for the subscriber and the acks.
    let expected = per_session * tasks.len() as u64;
    let schedule_end = run_start
        + gap.map_or(Duration::ZERO, |g| g * tasks.len() as u32)
        + spec.connect_timeout
        + Duration::from_micros(per_session.saturating_mul(step_us) + step_us);
    while counters.sent.load(Ordering::Relaxed) + counters.dropped.load(Ordering::Relaxed)
        < expected
        && Instant::now() < schedule_end
        && !stop.load(Ordering::Relaxed)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let publish_end = Instant::now();
    let total_sent = counters.sent.load(Ordering::Relaxed);
    let deadline = Instant::now() + spec.drain;
    while (counters.received.load(Ordering::Relaxed) < total_sent
        || (spec.qos > 0 && counters.acked.load(Ordering::Relaxed) < total_sent))
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = release_tx.send(true);
    let mut sent = vec![0u64; n_devices];
    let mut connect = latency_histogram();
    let (mut connected, mut failed) = (0u64, 0u64);
    let mut first_start: Option<Instant> = None;
    let mut dropped = Dropped::default();
    for (k, t) in tasks.into_iter().enumerate() {
        let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(5), t).await else {
            tracing::debug!("a load session did not end within 5 s");
            continue;
        };
        for (j, n) in o.sent.iter().enumerate() {
            sent[k * dps + j] = *n;
        }
        dropped.add(&o.dropped);
        if o.connected {
            connected += 1;
        } else {
            failed += 1;
        }
        if let Some(us) = o.connect_us {
            connect.saturating_record(us);
        }
        if let Some(st) = o.start.map(Instant::from) {
            first_start = Some(first_start.map_or(st, |f| f.min(st)));
        }
    }
    let start: Instant = first_start.unwrap_or(run_start);
    let take = |h: &Mutex<Histogram<u64>>| {
        h.lock()
            .map(|h| h.clone())
            .unwrap_or_else(|_| latency_histogram())
    };
    let (ack, lag) = (take(&hists.ack), take(&hists.lag));
    let wall = (Instant::now().max(start) - start).as_secs_f64();
    let publish_secs = (publish_end.max(start) - start).as_secs_f64().max(1e-3);
    let _ = sub_release.send(true);
    let mut subscriber_reconnects = 0;
    for t in sub_tasks {
        if let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(3), t).await {
            subscriber_reconnects += o.reconnects;
        }
    }
    if let Some(s) = sampler {
        s.abort();
    }
    let cpu_seconds = match (cpu0, process_cpu_seconds()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };

    let st = state
        .lock()
        .map_err(|_| std::io::Error::other("load state poisoned"))?;
    let mut m = crate::report::MessageCounts {
        sent: 0,
        received: 0,
        lost: 0,
        duplicates: 0,
        out_of_order: 0,
        dropped_at_source: dropped.total(),
        malformed: st.malformed,
    };
    for (i, t) in st.tallies.iter().enumerate() {
        let s = sent[i];
        m.sent += s;
        m.received += t.received;
        m.lost += s.saturating_sub(t.received);
        m.duplicates += t.duplicates;
        m.out_of_order += t.out_of_order;
    }
    let lag_p99_ms = if lag.is_empty() {
        0.0
    } else {
        lag.value_at_quantile(0.99) as f64 / 1000.0
    };
    let mut histograms = BTreeMap::new();
    for (name, h) in [
        ("latency", &st.actual),
        ("intended", &st.intended),
        ("ack", &ack),
        ("connect", &connect),
        ("schedule_lag", &lag),
    ] {
        histograms.insert(name.to_string(), histogram_to_base64(h));
    }
    Ok(LoadReport {
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "load pub".into(),
        broker: crate::report::BrokerInfo { url, embedded },
        shard: spec.shard.label(),
        merged: 1,
        clients: sessions.len() as u64,
        devices: n_devices as u64,
        devices_seen: st.tallies.iter().filter(|t| t.received > 0).count() as u64,
        qos: spec.qos,
        size: spec
            .payload
            .as_ref()
            .map_or(spec.size.max(HEADER), String::len) as u64,
        wall_seconds: round4(wall),
        received_per_s: round4(m.received as f64 / publish_secs),
        messages: m,
        acked: counters.acked.load(Ordering::Relaxed),
        dropped,
        retransmitted: counters.retransmitted.load(Ordering::Relaxed),
        foreign: st.foreign,
        connect: ConnectCounts {
            connected,
            failed,
            errors: counters.errors.load(Ordering::Relaxed),
            reconnects: counters.reconnects.load(Ordering::Relaxed),
            subscriber_reconnects,
        },
        latency_ms: Latency::of(&st.actual),
        latency_intended_ms: Latency::of(&st.intended),
        ack_ms: Latency::of(&ack),
        connect_ms: Latency::of(&connect),
        schedule_lag_ms: Latency::of(&lag),
        schedule_lag_max_ms: round4(lag.max() as f64 / 1000.0),
        cpu_seconds: round4(cpu_seconds),
        generator_behind: lag_p99_ms > 50.0 && cpu_seconds / wall.max(1e-3) > 0.8,
        histograms,
    })
}
