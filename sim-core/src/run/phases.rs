//! [`run`], phase by phase: start ingest, start the sessions, wait for their
//! connections, start the sim, watch it, drain, and hand the results to
//! [`super::assemble`]. Each phase is a method of [`Run`], the state they share; what a
//! phase starts (tasks, channels, counters) comes back as a value the later phases take.

use super::assemble::{self, Outcome};
use super::controller::controller;
use super::monitor::Monitor;
use super::options::RunOptions;
use super::progress::{Phase, Progress};
use super::setup::{check_file_limit, qos_of};
use crate::analytics::fleet::{FleetAnalytics, FleetConfig};
use crate::error::RunError;
use crate::ingest::{self, Ingest, IngestCounters, IngestState, Topics};
use crate::report::Report;
use crate::sim::clock::{self, SimProgress};
use crate::sim::{InboundCommand, SessionCommand, Sim, SimIo, SimStats, Steer};
use crate::transport::broker::EmbeddedBroker;
use crate::transport::dispatch::{self, DispatchCounters, DispatchStats, Route, SendLog};
use crate::transport::endpoint::Endpoint;
use crate::transport::session::{self, SessionCtx, SessionSignal, SessionStats};
use crate::transport::shutdown::{self, Trigger};
use rumqttc::{AsyncClient, QoS};
use scenarios::{Scenario, fill_template};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Run a scenario to its end (or until `stop` is set) and build the report.
pub async fn run(
    scenario: &Scenario,
    opts: RunOptions,
    progress: watch::Sender<Progress>,
    stop: Arc<AtomicBool>,
) -> Result<Report, RunError> {
    let mut run = Run::prepare(scenario, opts, progress, stop)?;
    let ingest = run.start_ingest().await?;
    let steer_rx = run.start_controller();
    let (sessions, clients, cmd_rx) = run.start_sessions();
    if let Err(e) = run.wait_connected(&sessions).await {
        sessions.shut_down().await;
        ingest.stop.fire();
        return Err(e);
    }
    let live = run.start_sim(clients, cmd_rx, steer_rx, &ingest, &sessions)?;
    let started = live.started;
    let finished = run.watch(live, &ingest).await?;
    run.drain(&finished, &ingest).await;
    let wall_seconds = started.elapsed().as_secs_f64();
    // Read the results before the sessions publish their final `offline`.
    let results = assemble::take_results(scenario, &ingest.state, &finished.sim)?;
    let session_stats = sessions.shut_down().await;
    ingest.stop.fire();
    let _ = tokio::time::timeout(Duration::from_secs(2), ingest.task).await;
    let report = assemble::report(Outcome {
        scenario,
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

/// What every phase shares.
struct Run<'a> {
    scenario: &'a Scenario,
    opts: RunOptions,
    /// Where progress goes, and the last one sent.
    progress: watch::Sender<Progress>,
    prog: Progress,
    /// Set by the caller (Ctrl-C, the UI's quit): the sim thread and the waits check it.
    stop: Arc<AtomicBool>,
    url: String,
    /// The in-process broker, when the scenario names none.
    embedded: Option<EmbeddedBroker>,
    endpoint: Endpoint,
    qos: QoS,
    ids: Vec<String>,
}

/// The ingest task and what it shares with the run.
struct IngestTask {
    state: Arc<Mutex<IngestState>>,
    counters: Arc<IngestCounters>,
    /// Send times and expected values, from the dispatcher to ingest.
    send_log: Arc<SendLog>,
    stop: Trigger,
    task: JoinHandle<()>,
}

/// The device sessions.
struct Sessions {
    /// Per device: whether it should be online (the router sets it from the sim).
    signals: Vec<Arc<SessionSignal>>,
    tasks: Vec<JoinHandle<()>>,
    stats: Arc<SessionStats>,
    /// Ends every session: a last `offline`, DISCONNECT.
    stop: Trigger,
}

impl Sessions {
    /// Stop every session and wait (at most 5 s) until they have said goodbye.
    async fn shut_down(self) -> Arc<SessionStats> {
        self.stop.fire();
        let all = async {
            for t in self.tasks {
                let _ = t.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), all).await;
        self.stats
    }
}

/// The sim and the tasks around it, while it runs.
struct Live {
    /// Wall time just before the sim thread started.
    started: Instant,
    sim_thread: std::thread::JoinHandle<SimStats>,
    sim_progress: watch::Receiver<SimProgress>,
    dispatch: JoinHandle<DispatchStats>,
    dispatched: Arc<DispatchCounters>,
    /// Turns the sim's session changes into session signals.
    router: JoinHandle<()>,
}

/// What the sim and the dispatcher did, once the sim has stopped.
pub(super) struct Finished {
    pub sim: SimStats,
    pub dispatch: DispatchStats,
    /// Stopped before the scenario's duration.
    pub interrupted: bool,
}

impl<'a> Run<'a> {
    /// Check the file limit, start the embedded broker if the scenario names no broker,
    /// and resolve the endpoint.
    fn prepare(
        scenario: &'a Scenario,
        opts: RunOptions,
        progress: watch::Sender<Progress>,
        stop: Arc<AtomicBool>,
    ) -> Result<Run<'a>, RunError> {
        let n = scenario.devices.len();
        let url = opts.broker_url.clone().or(scenario.broker_url.clone());
        check_file_limit(n, url.is_none())?;
        let (embedded, url) = match url {
            Some(u) => (None, u),
            None => {
                let b = EmbeddedBroker::start(n + 16)?;
                let u = b.url();
                (Some(b), u)
            }
        };
        let endpoint = Endpoint::new(&url, &opts.security)?;
        let prog = Progress {
            devices: n as u64,
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
            url,
            embedded,
            endpoint,
            qos: qos_of(scenario.mqtt.qos),
            ids: scenario.devices.iter().map(|d| d.id.clone()).collect(),
        })
    }

    /// Ingest first, so nothing a device sends is missed; waits for its subscriptions.
    async fn start_ingest(&self) -> Result<IngestTask, RunError> {
        let s = self.scenario;
        let models: Vec<scenarios::ModelKind> = s.devices.iter().map(|d| d.model.kind()).collect();
        let periods: Vec<f64> = s.devices.iter().map(|d| d.publish_every).collect();
        let mut analytics = FleetAnalytics::new(
            FleetConfig::from_spec(&s.analytics),
            self.ids.clone(),
            &models,
            &periods,
        );
        analytics.apply_rules(&s.rules);
        let state = Arc::new(Mutex::new(IngestState::new(
            &self.ids,
            analytics,
            s.start_epoch,
        )));
        let counters = Arc::new(IngestCounters::default());
        let send_log = Arc::new(SendLog::default());
        let (stop, shutdown) = shutdown::signal();
        let (ready_tx, ready_rx) = oneshot::channel();
        let ingest = Ingest {
            state: state.clone(),
            counters: counters.clone(),
            send_log: send_log.clone(),
            encoding: s.mqtt.encoding,
            topics: Topics {
                telemetry: s.mqtt.telemetry_topic.replace("{fleet}", &s.fleet),
                status: s.mqtt.status_topic.replace("{fleet}", &s.fleet),
            },
            attach: false,
        };
        let task = tokio::spawn(ingest::run(
            ingest,
            self.endpoint.clone(),
            self.qos,
            ready_tx,
            shutdown,
        ));
        if tokio::time::timeout(self.opts.connect_timeout, ready_rx)
            .await
            .is_err()
        {
            stop.fire();
            return Err(RunError::Unreachable {
                url: self.url.clone(),
                what: "no MQTT connection and subscription".into(),
                secs: self.opts.connect_timeout.as_secs_f64(),
            });
        }
        Ok(IngestTask {
            state,
            counters,
            send_log,
            stop,
            task,
        })
    }

    /// The controller, when the UI gave a control channel: one more session that
    /// publishes its commands, and the channel that steers the sim.
    fn start_controller(&mut self) -> Option<mpsc::Receiver<Steer>> {
        let rx = self.opts.controls.take()?;
        let s = self.scenario;
        let (steer_tx, steer_rx) = mpsc::channel(256);
        let cmd_topics: Vec<String> = self
            .ids
            .iter()
            .map(|id| fill_template(&s.mqtt.command_topic, &s.fleet, id))
            .collect();
        tokio::spawn(controller(
            self.endpoint.clone(),
            self.qos,
            cmd_topics,
            rx,
            steer_tx,
        ));
        Some(steer_rx)
    }

    /// One session per device; returns their clients (for the dispatcher) and the
    /// commands they receive (for the sim).
    fn start_sessions(&self) -> (Sessions, Vec<AsyncClient>, mpsc::Receiver<InboundCommand>) {
        let (s, n) = (self.scenario, self.ids.len());
        let (cmd_tx, cmd_rx) = mpsc::channel(4096);
        let stats = Arc::new(SessionStats::default());
        let permits = Arc::new(Semaphore::new(self.opts.connect_concurrency.max(1)));
        let (stop, shutdown) = shutdown::signal();
        let (mut clients, mut signals, mut tasks) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (i, id) in self.ids.iter().enumerate() {
            let status_topic = fill_template(&s.mqtt.status_topic, &s.fleet, id);
            let client_id = fill_template(&s.mqtt.client_id, &s.fleet, id);
            let o = session::options(&client_id, &self.endpoint, s.mqtt.keep_alive, &status_topic);
            // A small request queue: a device with a backlog this deep is dropping at source.
            let (client, eventloop) = AsyncClient::new(o, 32);
            let signal = Arc::new(SessionSignal::default());
            signal.want_online.store(true, Ordering::Release);
            let ctx = SessionCtx {
                index: i as u32,
                client: client.clone(),
                cmd_topic: fill_template(&s.mqtt.command_topic, &s.fleet, id),
                status_topic,
                qos: self.qos,
                cmd_tx: cmd_tx.clone(),
                stats: stats.clone(),
                connect_permits: permits.clone(),
                signal: signal.clone(),
                shutdown: shutdown.clone(),
            };
            tasks.push(tokio::spawn(session::run(ctx, eventloop)));
            clients.push(client);
            signals.push(signal);
        }
        let sessions = Sessions {
            signals,
            tasks,
            stats,
            stop,
        };
        (sessions, clients, cmd_rx)
    }

    /// Wait for every session's CONNACK (publishing the count as it grows), until the
    /// connect timeout plus a millisecond a device, or until `stop`.
    async fn wait_connected(&mut self, sessions: &Sessions) -> Result<(), RunError> {
        let n = self.ids.len();
        let allowed = self.opts.connect_timeout + Duration::from_millis(n as u64);
        let deadline = Instant::now() + allowed;
        loop {
            let c = sessions.stats.connected.load(Ordering::Acquire);
            self.prog.connected = c;
            self.progress.send_replace(self.prog);
            if c as usize >= n {
                return Ok(());
            }
            if Instant::now() > deadline || self.stop.load(Ordering::Relaxed) {
                return Err(RunError::Unreachable {
                    url: self.url.clone(),
                    what: format!("only {c} of {n} device sessions connected"),
                    secs: allowed.as_secs_f64(),
                });
            }
            // `stop` is a plain flag (the caller's), so look at it now and then.
            let notified = sessions.stats.connected_notify.notified();
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Build the sim, start the dispatcher and the session router, then the sim thread.
    fn start_sim(
        &mut self,
        clients: Vec<AsyncClient>,
        commands: mpsc::Receiver<InboundCommand>,
        steer: Option<mpsc::Receiver<Steer>>,
        ingest: &IngestTask,
        sessions: &Sessions,
    ) -> Result<Live, RunError> {
        let s = self.scenario;
        let outbox_capacity = (self.ids.len() * 4).clamp(1024, 1 << 20);
        let (out_tx, out_rx) = mpsc::channel(outbox_capacity);
        let (ses_tx, ses_rx) = mpsc::unbounded_channel();
        let io = SimIo {
            outbox: out_tx,
            commands,
            sessions: ses_tx,
            steer,
        };
        let sim = Sim::new(s, io);
        let route = Route {
            clients,
            topics: self
                .ids
                .iter()
                .map(|id| fill_template(&s.mqtt.telemetry_topic, &s.fleet, id))
                .collect(),
            ids: self.ids.clone(),
            qos: self.qos,
            encoding: s.mqtt.encoding,
            sent_us: s.mqtt.sent_us,
            start_epoch: s.start_epoch,
        };
        let dispatched = Arc::new(DispatchCounters::default());
        let dispatch = tokio::spawn(dispatch::run(
            route,
            out_rx,
            ingest.send_log.clone(),
            dispatched.clone(),
        ));
        let router = tokio::spawn(route_sessions(ses_rx, sessions.signals.clone()));
        let (sim_prog_tx, sim_progress) = watch::channel(SimProgress::default());
        let pacing = self.opts.pacing.clone().unwrap_or_default();
        let started = Instant::now();
        let sim_thread = clock::spawn(sim, s.speed, self.stop.clone(), pacing, sim_prog_tx)?;
        self.prog.phase = Phase::Running;
        Ok(Live {
            started,
            sim_thread,
            sim_progress,
            dispatch,
            dispatched,
            router,
        })
    }

    /// Publish progress (and snapshots, for the UI) until the sim thread ends; then
    /// collect what the sim and the dispatcher did.
    async fn watch(&mut self, live: Live, ingest: &IngestTask) -> Result<Finished, RunError> {
        let mut monitor = Monitor::new(&self.url, self.embedded.is_some());
        // Ten looks a second: progress is sampled from counters, not pushed.
        while !live.sim_thread.is_finished() {
            let sp = *live.sim_progress.borrow();
            self.prog.sim_now = sp.now;
            self.prog.sent = live.dispatched.sent.load(Ordering::Relaxed);
            self.prog.received = ingest.counters.unique.load(Ordering::Relaxed);
            self.prog.dropped_at_source = sp.dropped_at_source;
            self.progress.send_replace(self.prog);
            monitor.count_rate(&mut self.prog, &ingest.state);
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
    async fn drain(&mut self, finished: &Finished, ingest: &IngestTask) {
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

/// Turn the sim's session changes into session signals, until the sim drops its end.
async fn route_sessions(
    mut rx: mpsc::UnboundedReceiver<SessionCommand>,
    signals: Vec<Arc<SessionSignal>>,
) {
    while let Some(cmd) = rx.recv().await {
        let (i, online) = match cmd {
            SessionCommand::Disconnect(i) => (i, false),
            SessionCommand::Reconnect(i) => (i, true),
        };
        if let Some(s) = signals.get(i as usize) {
            s.want_online.store(online, Ordering::Release);
            s.notify.notify_one();
        }
    }
}
