//! The starting phases of a run: ingest, the controller, the wait for the sessions'
//! connections (`sessions` starts them), and the sim with its dispatcher and session
//! router.

use super::controller::controller;
use super::options::Flow;
use super::progress::Phase;
use super::sessions::route_sessions;
use super::state::{IngestTask, Live, Run, Sessions};
use crate::analytics::fleet::{FleetAnalytics, FleetConfig};
use crate::error::RunError;
use crate::flow::{PER_DEVICE, PER_INGEST_SESSION, Window};
use crate::ingest::{self, Ingest, IngestCounters, IngestState, Topics};
use crate::sim::clock::{self, SimProgress};
use crate::sim::{InboundCommand, Sim, SimIo, Steer};
use crate::transport::dispatch::{self, DispatchCounters, Route, SendLog};
use crate::transport::reach;
use crate::transport::shutdown;
use rumqttc::{AsyncClient, QoS};
use scenarios::fill_template;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch};

/// The QoS of the run's own ingest subscription. The devices publish at the scenario's
/// QoS: their sessions are what is measured. The broker hands each message on to the
/// ingest at QoS 0, so no acknowledgement of the ingest's is on the path: a broker
/// holds a QoS 1 subscriber's unacknowledged messages against a queue of its own
/// (Mosquitto: 1,000, and it reads one subscriber packet per wake-up, so with a
/// thousand publishers the acknowledgements it has not read yet fill that queue and it
/// drops telemetry the ingest already has). At QoS 0 what the broker holds for the
/// ingest is what the flow window has in flight, and a message it drops still counts as
/// lost by its `seq`. The order of each device's messages is kept either way.
const INGEST_QOS: QoS = QoS::AtMostOnce;

/// The outbox's size. With a flow window it holds the whole window plus one step of
/// the whole fleet (the sim looks at the window before each step), so it is never full;
/// without, four messages a device.
fn outbox_capacity(devices: usize, window: Option<&Window>) -> usize {
    match window {
        Some(w) => (w.limit() as usize).saturating_add(devices).max(1024),
        None => (devices * 4).clamp(1024, 1 << 20),
    }
}

/// How far (sim seconds) the sim may run ahead of its oldest message in flight: a
/// quarter of the shortest time the analytics judge by (the clock-skew tolerance, and
/// a device's staleness, `stale_factor` × its period), and at least two ticks. So a
/// message the pipeline kept a little longer is never mistaken for a skewed clock or a
/// silent device.
fn lead(s: &scenarios::Scenario) -> f64 {
    let cfg = FleetConfig::from_spec(&s.analytics);
    let period = s
        .devices
        .iter()
        .map(|d| d.publish_every)
        .fold(f64::INFINITY, f64::min);
    let judged = cfg.skew_tolerance.min(cfg.stale_factor * period);
    (judged / 4.0).max(2.0 * s.tick)
}

impl Run<'_> {
    /// The flow window the options ask for, sized for this fleet.
    fn window(&self) -> Option<Window> {
        match self.opts.flow {
            Flow::Hold { window } => Some(
                Window::new(
                    self.ids.len(),
                    window.unwrap_or(PER_INGEST_SESSION),
                    PER_DEVICE,
                )
                .with_lead(lead(self.scenario)),
            ),
            Flow::Drop => None,
        }
    }

    /// Ingest first, so nothing a device sends is missed; waits for its subscriptions.
    pub(super) async fn start_ingest(&self) -> Result<IngestTask, RunError> {
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
        if let Ok(mut st) = state.lock() {
            if let Some(sh) = &s.shard {
                st.ignore(&sh.others);
            }
            st.set_gateways(&self.gateways);
        }
        let counters = Arc::new(IngestCounters::default());
        let send_log = Arc::new(match self.window() {
            Some(w) => SendLog::with_window(Arc::new(w)),
            None => SendLog::default(),
        });
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
            INGEST_QOS,
            ready_tx,
            shutdown,
        ));
        let waited = tokio::select! {
            r = tokio::time::timeout(self.opts.connect_timeout, ready_rx) => r.map_err(|_| {
                RunError::Unreachable {
                    url: self.url.clone(),
                    why: format!(
                        "timed out: the ingest had no MQTT connection and subscription within {:.0} s",
                        self.opts.connect_timeout.as_secs_f64()
                    ),
                }
            }),
            _ = reach::stopped(&self.stop) => Err(reach::interrupted(&self.url)),
        };
        if let Err(e) = waited {
            stop.fire();
            return Err(e);
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
    pub(super) fn start_controller(&mut self) -> Option<mpsc::Receiver<Steer>> {
        let rx = self.opts.controls.take()?;
        let s = self.scenario;
        let (steer_tx, steer_rx) = mpsc::channel(256);
        let cmd_topics: Vec<String> = self
            .ids
            .iter()
            .map(|id| fill_template(&s.mqtt.command_topic, &s.fleet, id))
            .collect();
        let (stop, shutdown) = shutdown::signal();
        self.controller = Some(stop);
        tokio::spawn(controller(
            self.endpoint.clone(),
            self.qos,
            cmd_topics,
            rx,
            steer_tx,
            shutdown,
        ));
        Some(steer_rx)
    }

    /// The conventions' announcer, when the fleet has announcements: its shutdown and
    /// task.
    pub(super) fn start_announcer(
        &self,
    ) -> Option<(shutdown::Trigger, tokio::task::JoinHandle<u64>)> {
        if self.opts.announce.retained.is_empty() {
            return None;
        }
        let (stop, shutdown) = shutdown::signal();
        let task = tokio::spawn(crate::transport::announce::run(
            self.endpoint.clone(),
            self.opts.announce.clone(),
            shutdown,
        ));
        Some((stop, task))
    }

    /// Wait for every session's CONNACK (publishing the count as it grows), until the
    /// connect timeout plus a millisecond a device, or until `stop`.
    pub(super) async fn wait_connected(&mut self, sessions: &Sessions) -> Result<(), RunError> {
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
            if self.stop.load(Ordering::Relaxed) {
                return Err(reach::interrupted(&self.url));
            }
            if Instant::now() > deadline {
                return Err(RunError::Unreachable {
                    url: self.url.clone(),
                    why: format!(
                        "timed out: only {c} of {n} device sessions connected within {:.0} s",
                        allowed.as_secs_f64()
                    ),
                });
            }
            // `stop` is a plain flag (the caller's), so look at it now and then.
            let notified = sessions.stats.connected_notify.notified();
            let _ = tokio::time::timeout(Duration::from_millis(20), notified).await;
        }
    }

    /// Build the sim, start the dispatcher and the session router, then the sim thread.
    pub(super) fn start_sim(
        &mut self,
        clients: Vec<AsyncClient>,
        commands: mpsc::Receiver<InboundCommand>,
        steer: Option<mpsc::Receiver<Steer>>,
        ingest: &IngestTask,
        sessions: &Sessions,
    ) -> Result<Live, RunError> {
        let s = self.scenario;
        let window = ingest.send_log.window().cloned();
        let (out_tx, out_rx) = mpsc::channel(outbox_capacity(self.ids.len(), window.as_deref()));
        let (ses_tx, ses_rx) = mpsc::unbounded_channel();
        let io = SimIo {
            outbox: out_tx,
            commands,
            sessions: ses_tx,
            steer,
            window,
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
        let router = tokio::spawn(route_sessions(
            ses_rx,
            sessions.paths.clone(),
            sessions.gateways.clone(),
        ));
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
}
