//! [`run`], phase by phase: start ingest, start the sessions, wait for their
//! connections, start the sim (those in `start.rs`), watch it, drain, and hand the
//! results to `assemble`. Each phase is a method of [`Run`] (in `state.rs`), the state
//! they share; what a phase starts (tasks, channels, counters) comes back as a value the
//! later phases take.

use super::assemble::{self, Outcome};
use super::flow::{FLOW_STALL_MIN, FlowWatch};
use super::monitor::Monitor;
use super::options::Flow;
use super::options::RunOptions;
use super::progress::{Phase, Progress};
use super::setup::{check_file_limit, qos_of};
use super::state::{Finished, IngestTask, Live, Run};
use crate::error::RunError;
use crate::report::{FlowMode, FlowReport, Report, round4};
use crate::transport::broker::EmbeddedBroker;
use crate::transport::endpoint::Endpoint;
use crate::transport::reach::{self, ProbeLimits};
use crate::transport::retained;
use scenarios::Scenario;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Run a scenario to its end (or until `stop` is set) and build the report.
pub async fn run(
    scenario: &Scenario,
    opts: RunOptions,
    progress: watch::Sender<Progress>,
    stop: Arc<AtomicBool>,
) -> Result<Report, RunError> {
    let mut run = Run::prepare(scenario, opts, progress, stop)?;
    run.probe().await?;
    let ingest = run.start_ingest().await?;
    let steer_rx = run.start_controller();
    let (sessions, clients, cmd_rx) = run.start_sessions(ingest.send_log.window().cloned());
    if let Err(e) = run.wait_connected(&sessions).await {
        sessions.shut_down().await;
        ingest.stop.fire();
        return Err(e);
    }
    let announcer = run.start_announcer();
    let live = run.start_sim(clients, cmd_rx, steer_rx, &ingest, &sessions)?;
    let started = live.started;
    let finished = run.watch(live, &ingest).await?;
    run.drain(&finished, &ingest).await;
    let wall_seconds = started.elapsed().as_secs_f64();
    // Read the results before the sessions publish their final `offline`.
    let results = assemble::take_results(scenario, &ingest.state, &finished.sim)?;
    let flow = run.flow_report(&finished, &ingest);
    let session_stats = sessions.shut_down().await;
    if let Some(controller) = run.controller.take() {
        controller.fire();
    }
    if let Some((stop, task)) = announcer {
        stop.fire();
        let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
    }
    ingest.stop.fire();
    let _ = tokio::time::timeout(Duration::from_secs(2), ingest.task).await;
    // After the ingest is gone, so it does not count the clearing as status changes.
    run.clear_retained().await;
    let report = assemble::report(Outcome {
        scenario,
        flow,
        url: run.url.clone(),
        embedded: run.embedded.is_some(),
        wall_seconds,
        interrupted: finished.interrupted,
        sim: finished.sim,
        dispatch: finished.dispatch,
        sessions: &session_stats,
        results,
    });
    run.prog.phase = Phase::Done;
    run.progress.send_replace(run.prog);
    Ok(report)
}

impl<'a> Run<'a> {
    /// The report's `flow`: the window, the speed asked for and achieved, the time held.
    fn flow_report(&self, finished: &Finished, ingest: &IngestTask) -> FlowReport {
        let window = ingest.send_log.window();
        let sim = &finished.sim;
        let ran = sim.steps as f64 * self.scenario.tick;
        FlowReport {
            mode: match self.opts.flow {
                Flow::Hold { .. } => FlowMode::Hold,
                Flow::Drop => FlowMode::Drop,
            },
            window: window.map(|w| w.limit()),
            speed_requested: self.scenario.speed,
            speed_achieved: round4(ran / sim.ran_seconds.max(1e-9)),
            held_seconds: round4(sim.held_seconds),
            written_off: window.map_or(0, |w| w.written_off()),
        }
    }

    /// Leave a real broker as the run found it: clear every device's and gateway's
    /// retained `status` and the conventions' announcements (the only retained messages
    /// a run publishes), unless asked to keep them. The embedded broker ends with the
    /// process, so it is left alone.
    async fn clear_retained(&self) {
        if self.opts.keep_retained || self.embedded.is_some() {
            return;
        }
        let s = self.scenario;
        let topics: Vec<String> = self
            .ids
            .iter()
            .chain(self.gateways.iter().map(|g| &g.id))
            .map(|id| scenarios::fill_template(&s.mqtt.status_topic, &s.fleet, id))
            .chain(self.opts.announce.topics().cloned())
            .collect();
        let timeout = Duration::from_secs(10) + Duration::from_millis(topics.len() as u64);
        let cleared = retained::clear(&self.endpoint, &topics, timeout).await;
        if cleared < topics.len() {
            tracing::warn!(
                "cleared the retained status of {cleared} of {} devices; the rest stay on the broker",
                topics.len()
            );
        }
    }

    /// A real broker is tried once before any session starts, so one that cannot be used
    /// fails the run at once, with the reason (the embedded broker is known to work).
    async fn probe(&self) -> Result<(), RunError> {
        if self.embedded.is_some() {
            return Ok(());
        }
        let limits = ProbeLimits {
            connect_timeout: self.opts.connect_timeout,
            wait_for_broker: self.opts.wait_for_broker,
        };
        reach::probe(&self.url, &self.endpoint, limits, &self.stop).await
    }

    /// Check the file limit, start the embedded broker if the scenario names no broker,
    /// and resolve the endpoint.
    pub(super) fn prepare(
        scenario: &'a Scenario,
        opts: RunOptions,
        progress: watch::Sender<Progress>,
        stop: Arc<AtomicBool>,
    ) -> Result<Run<'a>, RunError> {
        let gateways = scenario.gateways();
        let sessions = scenario.session_count();
        let url = opts.broker_url.clone().or(scenario.broker_url.clone());
        check_file_limit(sessions, url.is_none())?;
        let (embedded, url) = match url {
            Some(u) => (None, u),
            None => {
                let b = EmbeddedBroker::start(sessions + 16)?;
                let u = b.url();
                (Some(b), u)
            }
        };
        let endpoint = Endpoint::new(&url, &opts.security)?;
        let prog = Progress {
            devices: scenario.devices.len() as u64,
            sim_duration: scenario.duration,
            ..Progress::default()
        };
        progress.send_replace(prog);
        Ok(Run {
            scenario,
            opts,
            progress,
            prog,
            stop,
            // Shown in reports, snapshots and errors: without the URL's password.
            url: scenarios::BrokerUrl::redact(&url),
            embedded,
            endpoint,
            qos: qos_of(scenario.mqtt.qos),
            ids: scenario.devices.iter().map(|d| d.id.clone()).collect(),
            gateways,
            controller: None,
        })
    }

    /// Publish progress (and snapshots, for the UI) until the sim thread ends; then
    /// collect what the sim and the dispatcher did.
    pub(super) async fn watch(
        &mut self,
        live: Live,
        ingest: &IngestTask,
    ) -> Result<Finished, RunError> {
        let mut monitor = Monitor::new(&self.url, self.embedded.is_some());
        let mut flow = FlowWatch::new(self.opts.drain_timeout.max(FLOW_STALL_MIN));
        // Ten looks a second: progress is sampled from counters, not pushed.
        while !live.sim_thread.is_finished() {
            let sp = *live.sim_progress.borrow();
            self.prog.sim_now = sp.now;
            self.prog.sent = live.dispatched.sent.load(Ordering::Relaxed);
            self.prog.received = ingest.counters.unique.load(Ordering::Relaxed);
            self.prog.dropped_at_source = sp.dropped_at_source;
            self.prog.held_seconds = sp.held_seconds;
            self.progress.send_replace(self.prog);
            monitor.count_rate(&mut self.prog, &ingest.state);
            flow.look(&ingest.send_log);
            if let Some(tx) = &self.opts.snapshots {
                let watched = self.opts.watch.as_ref().map(|w| w.load(Ordering::Relaxed));
                monitor.snapshot(tx, self.scenario, &ingest.state, &sp, &self.prog, watched);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sim_thread = live.sim_thread;
        let sim = tokio::task::spawn_blocking(move || sim_thread.join())
            .await
            .map_err(std::io::Error::other)?
            .map_err(|_| std::io::Error::other("the sim thread panicked"))?;
        let interrupted = self.stop.load(Ordering::Relaxed);
        let dispatch = live.dispatch.await.map_err(std::io::Error::other)?;
        live.router.abort();
        Ok(Finished {
            sim,
            dispatch,
            interrupted,
        })
    }

    /// Wait until everything sent has come back, or the drain timeout (at most 2 s
    /// after an interruption).
    pub(super) async fn drain(&mut self, finished: &Finished, ingest: &IngestTask) {
        self.prog.phase = Phase::Draining;
        let sent_total: u64 = finished.dispatch.sent.iter().sum();
        let timeout = if finished.interrupted {
            self.opts.drain_timeout.min(Duration::from_secs(2))
        } else {
            self.opts.drain_timeout
        };
        let deadline = Instant::now() + timeout;
        loop {
            let got = ingest.counters.unique.load(Ordering::Acquire);
            self.prog.sent = sent_total;
            self.prog.received = got;
            self.progress.send_replace(self.prog);
            if got >= sent_total || Instant::now() > deadline {
                return;
            }
            // `notify_waiters` wakes only a waiter that is there: look again now and then.
            let notified = ingest.counters.notify.notified();
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }
}
