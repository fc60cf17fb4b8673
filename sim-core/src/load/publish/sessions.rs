//! The publishing sessions of a `load pub` run: their schedules, their start at the
//! ramp, the wait for their schedules to end, and what they report back.

use crate::load::buffer::Dropped;
use crate::load::observed::Observed;
use crate::load::pacer::Pacer;
use crate::load::publish::context::{KEEP_ALIVE, PubRun};
use crate::load::publish::spec::DEFAULT_RECONNECT_RATE;
use crate::load::publish::topics::topic_of;
use crate::load::publisher::{PubOutcome, PubSession, RunHistograms};
use crate::load::sampler::LoadCounters;
use crate::load::subscriber::SubGate;
use crate::measure::latency_histogram;
use crate::run::RunError;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// The running publishers.
pub(crate) struct Publishers {
    /// One task per session, owning its socket.
    tasks: Vec<JoinHandle<PubOutcome>>,
    /// Ends the sessions (after the drain).
    release: watch::Sender<bool>,
    /// The ack and schedule-lag histograms they record into.
    hists: Arc<RunHistograms>,
    /// Messages per session.
    per_session: u64,
    /// µs between two messages of a session.
    step_us: u64,
    /// Time between two session starts (`--ramp`).
    gap: Option<Duration>,
    /// When the first session was started.
    run_start: Instant,
    /// The connect timeout, which bounds the wait for a schedule to start.
    connect_timeout: Duration,
    /// Devices per session.
    dps: usize,
}

/// What the sessions reported, added up.
pub(crate) struct Outcomes {
    /// Messages written, per device of the shard.
    pub sent: Vec<u64>,
    /// Connect latency of the first connections, µs.
    pub connect: Histogram<u64>,
    /// Sessions whose first connection succeeded.
    pub connected: u64,
    /// Sessions whose first connection failed.
    pub failed: u64,
    /// The earliest schedule start.
    pub first_start: Option<Instant>,
    /// Messages not sent, by reason.
    pub dropped: Dropped,
    /// PUBLISH → PUBACK/PUBCOMP, µs.
    pub ack: Histogram<u64>,
    /// Schedule lag, µs.
    pub lag: Histogram<u64>,
    /// Payload bytes written (first sends).
    pub payload_bytes: u64,
}

impl Publishers {
    /// Start this shard's sessions, at the ramp rate when one is set.
    pub async fn start(
        run: &PubRun<'_>,
        run_start: Instant,
        stop: &Arc<AtomicBool>,
        gate: Arc<SubGate>,
    ) -> Result<Publishers, RunError> {
        let spec = run.spec;
        let interval_us = spec.interval.as_micros().max(1) as u64;
        let per_device = {
            let by_time = (spec.duration.as_micros() as u64).div_ceil(interval_us);
            spec.count.map_or(by_time, |c| c.min(by_time))
        };
        // A session's messages, round-robin over its devices, one every `step` µs.
        let step_us = (interval_us / run.dps as u64).max(1);
        let (release, release_rx) = watch::channel(false);
        let mut p = Publishers {
            tasks: Vec::with_capacity(run.sessions.len()),
            release,
            hists: Arc::new(RunHistograms::default()),
            per_session: per_device * run.dps as u64,
            step_us,
            gap: spec
                .ramp_per_s
                .map(|r| Duration::from_secs_f64(1.0 / r.max(0.001))),
            run_start,
            connect_timeout: spec.connect_timeout,
            dps: run.dps,
        };
        let connecting = Arc::new(Semaphore::new(256));
        let pacer = Arc::new(Pacer::new(
            spec.ramp_per_s.unwrap_or(DEFAULT_RECONNECT_RATE),
        ));
        for (k, s) in run.sessions.clone().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(gap) = p.gap {
                tokio::time::sleep_until((run_start + gap * k as u32).into()).await;
            }
            let session = p.session(run, (k, s), &pacer, &gate)?;
            p.tasks.push(tokio::spawn(session.run(
                run.counters.clone(),
                stop.clone(),
                release_rx.clone(),
                connecting.clone(),
                p.hists.clone(),
            )));
        }
        Ok(p)
    }

    /// The `k`-th session of the shard, global index `s`.
    fn session(
        &self,
        run: &PubRun<'_>,
        (k, s): (usize, usize),
        pacer: &Arc<Pacer>,
        gate: &SubGate,
    ) -> Result<PubSession, RunError> {
        let (spec, dps) = (run.spec, run.dps);
        let client_id = format!("twin-load-{}-{s}", run.tag);
        let topics = (0..dps)
            .map(|j| topic_of(&spec.topic, s * dps + j, &client_id, spec.shard.index).into_bytes())
            .collect();
        let bodies = spec.payload.as_ref().map(|t| {
            (0..dps)
                .map(|j| topic_of(t, s * dps + j, &client_id, spec.shard.index))
                .collect()
        });
        let source =
            (!spec.source_ips.is_empty()).then(|| spec.source_ips[s % spec.source_ips.len()]);
        Ok(PubSession {
            dial: run.target.dial(source, run.connect_packet(&client_id)?),
            v5: spec.protocol.is_v5(),
            qos: run.qos,
            retain: spec.retain,
            size: spec.size,
            topics,
            bodies,
            first_device: (s * dps) as u32,
            messages: self.per_session,
            step_us: self.step_us,
            // Spread sessions over one step so they do not fire in lockstep.
            offset_us: self.step_us * k as u64 / run.sessions.len().max(1) as u64,
            keep_alive: KEEP_ALIVE,
            connect_timeout: spec.connect_timeout,
            inflight: run.inflight,
            buffer: spec.buffer.max(1).saturating_mul(dps),
            buffer_bytes: spec.buffer_bytes.max(1).saturating_mul(dps),
            policy: spec.buffer_policy,
            gate: gate.tx.subscribe(),
            pacer: pacer.clone(),
            observed: run.observed.clone(),
        })
    }

    /// Wait until every session has its schedule written or dropped (or could not have
    /// by now); when that was.
    pub async fn wait_schedule(
        &self,
        counters: &LoadCounters,
        stop: &AtomicBool,
        kicked: &Observed,
    ) -> Instant {
        let expected = self.per_session * self.tasks.len() as u64;
        let schedule_end = self.run_start
            + self
                .gap
                .map_or(Duration::ZERO, |g| g * self.tasks.len() as u32)
            + self.connect_timeout
            + Duration::from_micros(self.per_session.saturating_mul(self.step_us) + self.step_us);
        while counters.sent.load(Ordering::Relaxed) + counters.dropped.load(Ordering::Relaxed)
            < expected
            && Instant::now() < schedule_end
            && !stop.load(Ordering::Relaxed)
            && !kicked.stopped()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Instant::now()
    }

    /// Release the sessions and add up what they did, for `devices` devices.
    pub async fn finish(self, devices: usize) -> Outcomes {
        let _ = self.release.send(true);
        let mut o = Outcomes {
            sent: vec![0u64; devices],
            connect: latency_histogram(),
            connected: 0,
            failed: 0,
            first_start: None,
            dropped: Dropped::default(),
            ack: latency_histogram(),
            lag: latency_histogram(),
            payload_bytes: 0,
        };
        for (k, t) in self.tasks.into_iter().enumerate() {
            let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(5), t).await else {
                tracing::debug!("a load session did not end within 5 s");
                continue;
            };
            o.add(k * self.dps, &s);
        }
        let take = |h: &std::sync::Mutex<Histogram<u64>>| {
            h.lock()
                .map(|h| h.clone())
                .unwrap_or_else(|_| latency_histogram())
        };
        (o.ack, o.lag) = (take(&self.hists.ack), take(&self.hists.lag));
        o
    }
}

impl Outcomes {
    /// Add one session's outcome; its devices start at `first`.
    fn add(&mut self, first: usize, s: &PubOutcome) {
        for (j, n) in s.sent.iter().enumerate() {
            self.sent[first + j] = *n;
        }
        self.dropped.add(&s.dropped);
        self.payload_bytes += s.payload_bytes;
        if s.connected {
            self.connected += 1;
        } else {
            self.failed += 1;
        }
        if let Some(us) = s.connect_us {
            self.connect.saturating_record(us);
        }
        if let Some(st) = s.start.map(Instant::from) {
            self.first_start = Some(self.first_start.map_or(st, |f| f.min(st)));
        }
    }
}
