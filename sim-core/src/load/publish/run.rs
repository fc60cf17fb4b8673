//! Running `twin load pub`: the counting subscribers first, then the publishing
//! sessions on their schedules, then the drain and the report. The steps are methods
//! of [`PubRun`], the run's shared context, and of the publishers and subscribers.

use crate::load::codec::subscribe::subscribe_packet;
use crate::load::dial::bad_input;
use crate::load::publish::context::{KEEP_ALIVE, PubRun};
use crate::load::publish::finish::Times;
use crate::load::publish::sessions::Publishers;
use crate::load::publish::spec::LoadSpec;
use crate::load::publish::topics::filter_of;
use crate::load::report::LoadReport;
use crate::load::sampler::{Interval, Sampler, spawn_sampler};
use crate::load::subscriber::{SubFailure, SubGate, SubOutcome, SubSession, Subscribed};
use crate::measure::latency_histogram;
use crate::run::RunError;
use crate::transport::reach;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The run's counting subscribers.
struct Counting {
    /// Their sessions.
    tasks: Vec<JoinHandle<SubOutcome>>,
    /// Ends them, after the publishers.
    release: watch::Sender<bool>,
    /// Open while all are subscribed.
    gate: Arc<SubGate>,
}

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
    let mut run = PubRun::prepare(spec).await?;
    // Subscribers first, so nothing is missed; what the broker announced to them is
    // checked before anything is published.
    let (counting, subscribed) = run.start_counting(&stop).await?;
    if let Err(why) = run.honour(&subscribed.connack, subscribed.granted) {
        counting.finish().await;
        return Err(RunError::Refused {
            url: run.target.url.clone(),
            why,
        });
    }
    let run_start = Instant::now();
    let sampler = intervals.map(|tx| run.start_sampler(run_start, tx));
    let publishers = Publishers::start(&run, run_start, &stop, counting.gate.clone()).await?;
    let publish_end = publishers
        .wait_schedule(&run.counters, &stop, &run.observed)
        .await;
    run.drain().await;
    let outcomes = publishers.finish(run.sessions.len() * run.dps).await;
    let ended = Instant::now();
    let subscriber_reconnects = counting.finish().await;
    drop(sampler);
    let times = Times {
        run_start,
        publish_end,
        ended,
    };
    let mut report = run.report(outcomes, times, subscriber_reconnects)?;
    report.interrupted = stop.load(Ordering::Relaxed);
    Ok(report)
}

impl PubRun<'_> {
    /// Start the counting subscribers and wait until all are subscribed. Several share
    /// the subscription (`$share`): each has its own in-flight window at the broker, so
    /// delivery is not held to one session's window.
    async fn start_counting(&self, stop: &AtomicBool) -> Result<(Counting, Subscribed), RunError> {
        let spec = self.spec;
        let n_subs = spec.subscribers.max(1);
        let filter = filter_of(&spec.topic, spec.shard.index);
        let sub_filter = if n_subs > 1 {
            format!("$share/twin-{}/{filter}", self.tag)
        } else {
            filter
        };
        let v5 = spec.protocol.is_v5();
        let subscribe = subscribe_packet(1, &sub_filter, spec.qos, v5).map_err(bad_input)?;
        let shared = (n_subs > 1).then(|| {
            format!(
                "--subscribers {n_subs} shares one subscription ($share) among the counting \
                 subscribers; run with --subscribers 1"
            )
        });
        let wildcard = sub_filter.contains(['+', '#']);
        let gate = Arc::new(SubGate {
            need: n_subs,
            up: AtomicUsize::new(0),
            tx: watch::channel(false).0,
        });
        let (release, release_rx) = watch::channel(false);
        let (mut tasks, mut readies) = (Vec::new(), Vec::new());
        for i in 0..n_subs {
            let session = SubSession {
                dial: self.target.dial(
                    None,
                    self.connect_packet(&format!("twin-load-sub-{}-{i}", self.tag))?,
                ),
                v5,
                subscribe: subscribe.clone(),
                keep_alive: KEEP_ALIVE,
                qos: spec.qos,
                shared: shared.clone(),
                wildcard,
                observed: self.observed.clone(),
                connect_timeout: spec.connect_timeout,
                wait_until: tokio::time::Instant::now() + spec.wait_for_broker,
                gate: Some(gate.clone()),
                counters: None,
            };
            let (ready_tx, ready_rx) = oneshot::channel();
            readies.push(ready_rx);
            let (state, counters) = (self.state.clone(), self.counters.clone());
            tasks.push(tokio::spawn(session.run(
                ready_tx,
                release_rx.clone(),
                move |batch| {
                    if let Ok(mut st) = state.lock() {
                        let fresh = st.count(batch);
                        counters.received.fetch_add(fresh, Ordering::Relaxed);
                    }
                    ControlFlow::Continue(())
                },
            )));
        }
        let counting = Counting {
            tasks,
            release,
            gate,
        };
        let subscribed = tokio::select! {
            r = counting.ready(self, readies) => r,
            _ = reach::stopped(stop) => Err(reach::interrupted(&self.target.url)),
        };
        match subscribed {
            Ok(s) => Ok((counting, s)),
            Err(e) => {
                let _ = counting.release.send(true);
                Err(e)
            }
        }
    }

    /// The sampler: one [`Interval`] a second.
    fn start_sampler(&self, run_start: Instant, tx: mpsc::UnboundedSender<Interval>) -> Sampler {
        let state = self.state.clone();
        spawn_sampler(self.counters.clone(), run_start, tx, move || {
            match state.lock() {
                Ok(mut st) => st.take_interval(),
                Err(_) => latency_histogram(),
            }
        })
    }

    /// Wait for the subscribers and the acknowledgements of what was sent, up to the
    /// drain time.
    async fn drain(&self) {
        let (c, qos) = (&self.counters, self.qos);
        let total_sent = c.sent.load(Ordering::Relaxed);
        let deadline = Instant::now() + self.spec.drain;
        while (c.received.load(Ordering::Relaxed) < total_sent
            || (qos > 0 && c.acked.load(Ordering::Relaxed) < total_sent))
            && Instant::now() < deadline
            && !self.observed.stopped()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Counting {
    /// Wait until every subscriber is subscribed: a broker not there yet is retried
    /// (with backoff) until the connect timeout. The first subscriber's CONNACK, with
    /// the lowest QoS any SUBACK granted.
    async fn ready(
        &self,
        run: &PubRun<'_>,
        readies: Vec<oneshot::Receiver<Result<Subscribed, SubFailure>>>,
    ) -> Result<Subscribed, RunError> {
        let timeout = run.spec.connect_timeout;
        let ready_by = tokio::time::Instant::now() + timeout;
        let mut first: Option<Subscribed> = None;
        for ready_rx in readies {
            match tokio::time::timeout_at(ready_by, ready_rx).await {
                Ok(Ok(Ok(s))) => match &mut first {
                    Some(f) => f.granted = f.granted.min(s.granted),
                    None => first = Some(s),
                },
                Ok(Ok(Err(why))) => return Err(why.error(&run.target.url)),
                _ => {
                    return Err(RunError::Unreachable {
                        url: run.target.url.clone(),
                        why: format!(
                            "timed out: the load subscriber could not connect and subscribe within {:.0} s",
                            timeout.as_secs_f64()
                        ),
                    });
                }
            }
        }
        first.ok_or_else(|| RunError::BadInput("no counting subscriber".into()))
    }

    /// End the subscribers; how often they reconnected.
    async fn finish(self) -> u64 {
        let _ = self.release.send(true);
        let mut reconnects = 0;
        for t in self.tasks {
            if let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(3), t).await {
                reconnects += o.reconnects;
            }
        }
        reconnects
    }
}
