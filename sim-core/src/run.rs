//! One whole `twin run`: broker, ingest, sessions, dispatcher, sim thread, drain, report.

use crate::analytics::fleet::{FleetAnalytics, FleetConfig};
use crate::analytics::score;
pub use crate::error::RunError;
use crate::ingest::{self, Ingest, IngestCounters, IngestState, Topics};
use crate::report::*;
use crate::sim::clock::{self, SimProgress};
use crate::sim::{SessionCommand, Sim, SimIo};
use crate::snapshot::{FleetSnapshot, SnapshotHead};
use crate::transport::broker::EmbeddedBroker;
use crate::transport::dispatch::{self, DispatchCounters, Route, SendLog};
use crate::transport::endpoint::{Endpoint, Security};
use crate::transport::session::{self, SessionCtx, SessionSignal, SessionStats};
use rumqttc::{AsyncClient, QoS};
use scenarios::{Scenario, fill_template};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

/// How a run is set up beyond the scenario file.
#[derive(Debug)]
pub struct RunOptions {
    /// Broker URL; overrides the scenario's; `None` and no URL in the file = embedded.
    pub broker_url: Option<String>,
    /// How long to wait for messages still in flight after the last step.
    pub drain_timeout: Duration,
    /// How long to wait for the broker and for every session to connect.
    pub connect_timeout: Duration,
    /// Connection attempts in flight at once.
    pub connect_concurrency: usize,
    /// TLS and credentials for every session (device, ingest, controller).
    pub security: Security,
    /// Where to publish live fleet snapshots (for the terminal UI), if anywhere.
    pub snapshots: Option<watch::Sender<Arc<FleetSnapshot>>>,
    /// The device whose history snapshots should carry (`usize::MAX` for none).
    pub watch: Option<Arc<std::sync::atomic::AtomicUsize>>,
    /// Pause and speed controls for the sim clock (from the UI).
    pub pacing: Option<Arc<clock::Pacing>>,
    /// Commands to send to devices over MQTT, as any controller would (from the UI).
    pub controls: Option<mpsc::Receiver<Control>>,
}

/// What an operator (the terminal UI) asks of the running fleet.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Publish a command on a device's command topic, as any controller would.
    Command {
        /// Fleet index.
        device: usize,
        /// The JSON payload, e.g. `{"set":{"on":true}}`.
        payload: String,
    },
    /// Apply a timeline action to a device now (disconnect, reconnect, fault).
    Steer(crate::sim::Steer),
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            broker_url: None,
            drain_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(30),
            connect_concurrency: 256,
            security: Security::default(),
            snapshots: None,
            watch: None,
            pacing: None,
            controls: None,
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Phase {
    /// Starting the broker and connecting sessions.
    #[default]
    Connecting,
    /// Stepping the sim.
    Running,
    /// Waiting for the last messages.
    Draining,
    /// Report built.
    Done,
}

/// Live progress, published through a watch channel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// Phase.
    pub phase: Phase,
    /// Sessions connected.
    pub connected: u64,
    /// Devices in the fleet.
    pub devices: u64,
    /// Sim seconds done.
    pub sim_now: f64,
    /// Sim seconds in the run.
    pub sim_duration: f64,
    /// Messages accepted by clients.
    pub sent: u64,
    /// Distinct messages received.
    pub received: u64,
    /// Dropped at source so far.
    pub dropped_at_source: u64,
    /// Latency percentiles of the last wall second's messages, ms (`None` without any).
    pub recent_p50_ms: Option<f64>,
    /// See `recent_p50_ms`.
    pub recent_p99_ms: Option<f64>,
}

/// Run a scenario to its end (or until `stop` is set) and build the report.
pub async fn run(
    scenario: &Scenario,
    mut opts: RunOptions,
    progress: watch::Sender<Progress>,
    stop: Arc<AtomicBool>,
) -> Result<Report, RunError> {
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
    let qos = qos_of(scenario.mqtt.qos);
    let fleet = &scenario.fleet;
    let ids: Vec<String> = scenario.devices.iter().map(|d| d.id.clone()).collect();
    let mut prog = Progress {
        devices: n as u64,
        sim_duration: scenario.duration,
        ..Progress::default()
    };
    progress.send_replace(prog);

    // Ingest first, so nothing a device sends is missed.
    let send_log = Arc::new(SendLog::default());
    let models: Vec<scenarios::ModelKind> =
        scenario.devices.iter().map(|d| d.model.kind()).collect();
    let periods: Vec<f64> = scenario.devices.iter().map(|d| d.publish_every).collect();
    let mut analytics = FleetAnalytics::new(
        FleetConfig::from_spec(&scenario.analytics),
        ids.clone(),
        &models,
        &periods,
    );
    analytics.apply_rules(&scenario.rules);
    let state = Arc::new(Mutex::new(IngestState::new(
        &ids,
        analytics,
        scenario.start_epoch,
    )));
    let icounters = Arc::new(IngestCounters::default());
    let topics = Topics {
        telemetry: scenario.mqtt.telemetry_topic.replace("{fleet}", fleet),
        status: scenario.mqtt.status_topic.replace("{fleet}", fleet),
    };
    let (ready_tx, ready_rx) = oneshot::channel();
    let ingest_task = tokio::spawn(ingest::run(
        Ingest {
            state: state.clone(),
            counters: icounters.clone(),
            send_log: send_log.clone(),
            encoding: scenario.mqtt.encoding,
            topics,
            attach: false,
        },
        endpoint.clone(),
        qos,
        ready_tx,
    ));
    if tokio::time::timeout(opts.connect_timeout, ready_rx)
        .await
        .is_err()
    {
        icounters.stop.store(true, Ordering::Release);
        icounters.stop_notify.notify_one();
        return Err(RunError::Unreachable {
            url,
            what: "no MQTT connection and subscription".into(),
            secs: opts.connect_timeout.as_secs_f64(),
        });
    }

    // The controller: one more session that publishes commands from the UI, and the
    // channel that steers the sim.
    let (steer_tx, steer_rx) = mpsc::channel(256);
    let steer_rx = match opts.controls.take() {
        Some(rx) => {
            let cmd_topics: Vec<String> = ids
                .iter()
                .map(|id| fill_template(&scenario.mqtt.command_topic, fleet, id))
                .collect();
            tokio::spawn(controller(endpoint.clone(), qos, cmd_topics, rx, steer_tx));
            Some(steer_rx)
        }
        None => None,
    };

    // One session per device.
    let (cmd_tx, cmd_rx) = mpsc::channel(4096);
    let sstats = Arc::new(SessionStats::default());
    let permits = Arc::new(Semaphore::new(opts.connect_concurrency.max(1)));
    let mut clients = Vec::with_capacity(n);
    let mut signals = Vec::with_capacity(n);
    let mut session_tasks = Vec::with_capacity(n);
    for (i, id) in ids.iter().enumerate() {
        let status_topic = fill_template(&scenario.mqtt.status_topic, fleet, id);
        let client_id = fill_template(&scenario.mqtt.client_id, fleet, id);
        let o = session::options(
            &client_id,
            &endpoint,
            scenario.mqtt.keep_alive,
            &status_topic,
        );
        // A small request queue: a device with a backlog this deep is dropping at source.
        let (client, eventloop) = AsyncClient::new(o, 32);
        let signal = Arc::new(SessionSignal::default());
        signal.want_online.store(true, Ordering::Release);
        let ctx = SessionCtx {
            index: i as u32,
            client: client.clone(),
            cmd_topic: fill_template(&scenario.mqtt.command_topic, fleet, id),
            status_topic,
            qos,
            cmd_tx: cmd_tx.clone(),
            stats: sstats.clone(),
            connect_permits: permits.clone(),
            signal: signal.clone(),
        };
        session_tasks.push(tokio::spawn(session::run(ctx, eventloop)));
        clients.push(client);
        signals.push(signal);
    }
    drop(cmd_tx);

    // Wait for every session's CONNACK.
    let deadline = Instant::now() + opts.connect_timeout + Duration::from_millis(n as u64);
    loop {
        let c = sstats.connected.load(Ordering::Acquire);
        prog.connected = c;
        progress.send_replace(prog);
        if c as usize >= n {
            break;
        }
        if Instant::now() > deadline || stop.load(Ordering::Relaxed) {
            shutdown_sessions(&signals, session_tasks).await;
            icounters.stop.store(true, Ordering::Release);
            icounters.stop_notify.notify_one();
            return Err(RunError::Unreachable {
                url,
                what: format!("only {c} of {n} device sessions connected"),
                secs: (opts.connect_timeout + Duration::from_millis(n as u64)).as_secs_f64(),
            });
        }
        let _ = tokio::time::timeout(
            Duration::from_millis(100),
            sstats.connected_notify.notified(),
        )
        .await;
    }

    // Sim, dispatcher and the router for session changes.
    let outbox_capacity = (n * 4).clamp(1024, 1 << 20);
    let (out_tx, out_rx) = mpsc::channel(outbox_capacity);
    let (ses_tx, mut ses_rx) = mpsc::unbounded_channel();
    let sim = Sim::new(
        scenario,
        SimIo {
            outbox: out_tx,
            commands: cmd_rx,
            sessions: ses_tx,
            steer: steer_rx,
        },
    );
    let dcounters = Arc::new(DispatchCounters::default());
    let dispatch_task = tokio::spawn(dispatch::run(
        Route {
            clients,
            topics: ids
                .iter()
                .map(|id| fill_template(&scenario.mqtt.telemetry_topic, fleet, id))
                .collect(),
            ids: ids.clone(),
            qos,
            encoding: scenario.mqtt.encoding,
            sent_us: scenario.mqtt.sent_us,
            start_epoch: scenario.start_epoch,
        },
        out_rx,
        send_log,
        dcounters.clone(),
    ));
    let router_signals = signals.clone();
    let router = tokio::spawn(async move {
        while let Some(cmd) = ses_rx.recv().await {
            let (i, online) = match cmd {
                SessionCommand::Disconnect(i) => (i, false),
                SessionCommand::Reconnect(i) => (i, true),
            };
            if let Some(s) = router_signals.get(i as usize) {
                s.want_online.store(online, Ordering::Release);
                s.notify.notify_one();
            }
        }
    });

    let started = Instant::now();
    let (sim_prog_tx, sim_prog_rx) = watch::channel(SimProgress::default());
    let pacing = opts.pacing.clone().unwrap_or_default();
    let sim_thread = clock::spawn(sim, scenario.speed, stop.clone(), pacing, sim_prog_tx)?;
    prog.phase = Phase::Running;
    // Messages received per wall second, for the UI's rate chart.
    let mut recv_rate: Vec<u64> = Vec::new();
    let (mut last_rate_at, mut last_received) = (Instant::now(), 0u64);
    let mut last_snapshot = Instant::now() - Duration::from_secs(1);
    while !sim_thread.is_finished() {
        let sp = *sim_prog_rx.borrow();
        prog.sim_now = sp.now;
        prog.sent = dcounters.sent.load(Ordering::Relaxed);
        prog.received = icounters.unique.load(Ordering::Relaxed);
        prog.dropped_at_source = sp.dropped_at_source;
        progress.send_replace(prog);
        if last_rate_at.elapsed() >= Duration::from_secs(1) {
            if let Ok(mut st) = state.lock() {
                (prog.recent_p50_ms, prog.recent_p99_ms) =
                    crate::snapshot::p50_p99_ms(&st.latency_recent_us);
                st.latency_recent_us.reset();
            }
            recv_rate.push(prog.received - last_received);
            if recv_rate.len() > 120 {
                recv_rate.remove(0);
            }
            last_received = prog.received;
            last_rate_at = Instant::now();
        }
        if let Some(tx) = &opts.snapshots
            && last_snapshot.elapsed() >= Duration::from_millis(250)
        {
            last_snapshot = Instant::now();
            if let Ok(mut st) = state.lock() {
                if let Some(w) = &opts.watch {
                    let d = w.load(Ordering::Relaxed);
                    st.watch((d < n).then_some(d as u32));
                }
                let head = SnapshotHead {
                    broker: url.clone(),
                    embedded: embedded.is_some(),
                    phase: Phase::Running,
                    sim_now: sp.now,
                    sent: prog.sent,
                    dropped_at_source: sp.dropped_at_source,
                };
                let snap = FleetSnapshot::build(scenario, &st, head, &recv_rate);
                drop(st);
                tx.send_replace(Arc::new(snap));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sim_stats = tokio::task::spawn_blocking(move || sim_thread.join())
        .await
        .map_err(std::io::Error::other)?
        .map_err(|_| std::io::Error::other("the sim thread panicked"))?;
    let interrupted = stop.load(Ordering::Relaxed);
    let dstats = dispatch_task.await.map_err(std::io::Error::other)?;
    router.abort();

    // Drain: wait until everything sent has come back, or the drain timeout.
    prog.phase = Phase::Draining;
    let sent_total: u64 = dstats.sent.iter().sum();
    let drain_deadline = Instant::now()
        + if interrupted {
            opts.drain_timeout.min(Duration::from_secs(2))
        } else {
            opts.drain_timeout
        };
    loop {
        let got = icounters.unique.load(Ordering::Acquire);
        prog.sent = sent_total;
        prog.received = got;
        progress.send_replace(prog);
        if got >= sent_total || Instant::now() > drain_deadline {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), icounters.notify.notified()).await;
    }
    let wall_seconds = started.elapsed().as_secs_f64();

    // Snapshot before sessions publish their final `offline`.
    let (devices, latency, malformed, alerts, windows) = {
        let mut st = state
            .lock()
            .map_err(|_| std::io::Error::other("ingest state poisoned"))?;
        // A last look for silent devices at the end of the run.
        let end = sim_stats.steps as f64 * scenario.tick;
        let now = st.analytics.now().unwrap_or(end).max(end);
        st.analytics.scan(now);
        (
            st.devices.clone(),
            Latency::of(&st.latency_us),
            st.malformed + st.unknown_device,
            st.analytics.alerts(),
            (0..n)
                .map(|i| window_summaries(&st.analytics, i as u32))
                .collect::<Vec<_>>(),
        )
    };

    shutdown_sessions(&signals, session_tasks).await;
    icounters.stop.store(true, Ordering::Release);
    icounters.stop_notify.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(2), ingest_task).await;

    let mut per_device = Vec::with_capacity(n);
    let mut counts = MessageCounts {
        sent: 0,
        received: 0,
        lost: 0,
        duplicates: 0,
        out_of_order: 0,
        dropped_at_source: 0,
        malformed,
    };
    let (mut seen, mut online) = (0, 0);
    for (i, d) in scenario.devices.iter().enumerate() {
        let t = &devices[i];
        let sent = dstats.sent[i];
        let dropped = sim_stats.dropped_at_source[i] + dstats.dropped[i];
        let lost = sent.saturating_sub(t.received);
        counts.sent += sent;
        counts.received += t.received;
        counts.lost += lost;
        counts.duplicates += t.duplicates;
        counts.out_of_order += t.out_of_order;
        counts.dropped_at_source += dropped;
        seen += u64::from(t.received > 0);
        let is_online = t.online == Some(true);
        online += u64::from(is_online);
        per_device.push(DeviceReport {
            id: d.id.clone(),
            model: d.model.kind().name().to_string(),
            sent,
            received: t.received,
            lost,
            duplicates: t.duplicates,
            out_of_order: t.out_of_order,
            gaps: t.gaps(),
            dropped_at_source: dropped,
            online: is_online,
            readings: t
                .readings
                .iter()
                .map(|(name, s)| {
                    (
                        name.clone(),
                        ReadingSummary {
                            min: round4(s.min),
                            mean: round4(s.mean()),
                            max: round4(s.max),
                        },
                    )
                })
                .collect::<BTreeMap<_, _>>(),
            windows: windows[i].clone(),
        });
    }
    let run_end = sim_stats.steps as f64 * scenario.tick;
    let faults: Vec<crate::fault::FaultRecord> = sim_stats
        .faults
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.device = ids[f.device_index as usize].clone();
            f.end = f.end.min(run_end);
            f
        })
        .collect();
    let detection = (!faults.is_empty()).then(|| score::score(&faults, &alerts, &periods, run_end));
    let fleet_aggregates = FleetAggregates {
        groups: scenario
            .groups
            .iter()
            .enumerate()
            .map(|(g, spec)| {
                let members: Vec<usize> =
                    (0..n).filter(|&i| scenario.devices[i].group == g).collect();
                aggregate(spec.id_template.clone(), &members, &per_device)
            })
            .collect(),
        environments: scenario
            .environments
            .iter()
            .enumerate()
            .map(|(e, spec)| {
                let members: Vec<usize> = (0..n)
                    .filter(|&i| scenario.devices[i].environment == Some(e))
                    .collect();
                aggregate(spec.name.clone(), &members, &per_device)
            })
            .collect(),
    };
    let report = Report {
        fleet: fleet_aggregates,
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "run".into(),
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        sim_seconds: round4(sim_stats.steps as f64 * scenario.tick),
        wall_seconds: round4(wall_seconds),
        broker: BrokerInfo {
            url,
            embedded: embedded.is_some(),
        },
        devices: DeviceCounts {
            total: n as u64,
            seen,
            online,
        },
        messages: counts,
        latency_ms: latency,
        alerts,
        faults,
        detection,
        per_device,
        interrupted,
        sessions: SessionCounts {
            connect_errors: sstats.connect_errors.load(Ordering::Relaxed),
            reconnects: sstats.reconnects.load(Ordering::Relaxed),
            commands_applied: sim_stats.commands_applied,
            commands_rejected: sim_stats.commands_rejected
                + sstats.malformed_commands.load(Ordering::Relaxed)
                + sstats.commands_dropped.load(Ordering::Relaxed),
        },
    };
    prog.phase = Phase::Done;
    progress.send_replace(prog);
    Ok(report)
}

/// The rumqttc QoS for 0, 1 or 2.
pub(crate) fn qos_of(q: u8) -> QoS {
    match q {
        0 => QoS::AtMostOnce,
        2 => QoS::ExactlyOnce,
        _ => QoS::AtLeastOnce,
    }
}

async fn shutdown_sessions(
    signals: &[Arc<SessionSignal>],
    tasks: Vec<tokio::task::JoinHandle<()>>,
) {
    for s in signals {
        s.shutdown.store(true, Ordering::Release);
        s.notify.notify_one();
    }
    let all = async {
        for t in tasks {
            let _ = t.await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), all).await;
}

/// Raise the open-file soft limit to the hard limit and check the fleet fits under it:
/// one socket per session, two with the embedded broker (its end is in this process too).
pub(crate) fn check_file_limit(devices: usize, embedded: bool) -> Result<(), RunError> {
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(u64::MAX);
    let per = if embedded { 2 } else { 1 };
    let needed = devices as u64 * per + 128;
    if needed > limit {
        return Err(RunError::TooManyFiles {
            devices,
            needed,
            limit,
            why: if embedded {
                " (two per session: the embedded broker's end is in this process too)"
            } else {
                ""
            },
            hint: if embedded {
                ", or run against an external broker with --broker"
            } else {
                ""
            },
        });
    }
    Ok(())
}

fn window_summaries(a: &FleetAnalytics, d: u32) -> BTreeMap<String, WindowSummary> {
    use crate::analytics::sensor::TrendLabel;
    a.sensor_summaries(d)
        .into_iter()
        .filter(|(_, _, w)| w.count > 0)
        .map(|(name, t, w)| {
            (
                name.to_string(),
                WindowSummary {
                    count: w.count as u64,
                    mean: round4(w.mean),
                    std: round4(w.std),
                    p95: round4(w.p95),
                    slope_per_hour: round4(t.slope_per_hour),
                    trend: match t.label {
                        TrendLabel::Increasing => "increasing",
                        TrendLabel::Decreasing => "decreasing",
                        TrendLabel::Stable => "stable",
                    }
                    .to_string(),
                },
            )
        })
        .collect()
}

/// Publish UI commands on device command topics. Its event loop is polled by its own
/// task; this one only awaits `publish`.
async fn controller(
    endpoint: Endpoint,
    qos: QoS,
    topics: Vec<String>,
    mut rx: mpsc::Receiver<Control>,
    steer: mpsc::Sender<crate::sim::Steer>,
) {
    let id = format!("twin-controller-{}", std::process::id());
    let mut o = endpoint.options(id);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    let poller = tokio::spawn(async move {
        loop {
            if eventloop.poll().await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    });
    while let Some(c) = rx.recv().await {
        match c {
            Control::Command { device, payload } => {
                if let Some(topic) = topics.get(device)
                    && let Err(e) = client.publish(topic, qos, false, payload).await
                {
                    tracing::warn!(error = %e, "controller could not publish a command");
                }
            }
            Control::Steer(s) => {
                if steer.try_send(s).is_err() {
                    tracing::warn!("the sim is not taking steering now; action dropped");
                }
            }
        }
    }
    poller.abort();
}
