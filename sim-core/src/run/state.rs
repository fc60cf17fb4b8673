//! The state a run's phases share ([`Run`]) and what the phases start and hand on: the
//! ingest task, the sessions, the running sim, the finished sim.

use super::options::RunOptions;
use super::progress::Progress;
use crate::ingest::{IngestCounters, IngestState};
use crate::sim::SimStats;
use crate::sim::clock::SimProgress;
use crate::transport::broker::EmbeddedBroker;
use crate::transport::dispatch::{DispatchCounters, DispatchStats, SendLog};
use crate::transport::endpoint::Endpoint;
use crate::transport::gateway::{GatewayLink, Path};
use crate::transport::session::SessionStats;
use crate::transport::shutdown::Trigger;
use rumqttc::QoS;
use scenarios::Scenario;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What every phase shares.
pub(super) struct Run<'a> {
    pub(super) scenario: &'a Scenario,
    pub(super) opts: RunOptions,
    /// Where progress goes, and the last one sent.
    pub(super) progress: watch::Sender<Progress>,
    pub(super) prog: Progress,
    /// Set by the caller (Ctrl-C, the UI's quit): the sim thread and the waits check it.
    pub(super) stop: Arc<AtomicBool>,
    pub(super) url: String,
    /// The in-process broker, when the scenario names none.
    pub(super) embedded: Option<EmbeddedBroker>,
    pub(super) endpoint: Endpoint,
    pub(super) qos: QoS,
    pub(super) ids: Vec<String>,
    /// The fleet's gateways, worked out once.
    pub(super) gateways: Vec<scenarios::GatewaySpec>,
    /// Ends the controller (when there is one) once the run is over; dropping it, on
    /// an early return, does the same.
    pub(super) controller: Option<Trigger>,
}

/// The ingest task and what it shares with the run.
pub(super) struct IngestTask {
    pub(super) state: Arc<Mutex<IngestState>>,
    pub(super) counters: Arc<IngestCounters>,
    /// Send times and expected values, from the dispatcher to ingest.
    pub(super) send_log: Arc<SendLog>,
    pub(super) stop: Trigger,
    pub(super) task: JoinHandle<()>,
}

/// The device and gateway sessions.
pub(super) struct Sessions {
    /// Per device: how the router takes it off and on line.
    pub(super) paths: Arc<Vec<Path>>,
    /// The gateways, in the scenario's order.
    pub(super) gateways: Vec<Arc<GatewayLink>>,
    pub(super) tasks: Vec<JoinHandle<()>>,
    pub(super) stats: Arc<SessionStats>,
    /// Ends every session: a last `offline`, DISCONNECT.
    pub(super) stop: Trigger,
}

impl Sessions {
    /// Stop every session and wait (at most 5 s) until they have said goodbye.
    pub(super) async fn shut_down(self) -> Arc<SessionStats> {
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
pub(super) struct Live {
    /// Wall time just before the sim thread started.
    pub(super) started: Instant,
    pub(super) sim_thread: std::thread::JoinHandle<SimStats>,
    pub(super) sim_progress: watch::Receiver<SimProgress>,
    pub(super) dispatch: JoinHandle<DispatchStats>,
    pub(super) dispatched: Arc<DispatchCounters>,
    /// Turns the sim's session changes into session signals.
    pub(super) router: JoinHandle<()>,
}

/// What the sim and the dispatcher did, once the sim has stopped.
pub(super) struct Finished {
    pub(super) sim: SimStats,
    pub(super) dispatch: DispatchStats,
    /// Stopped before the scenario's duration.
    pub(super) interrupted: bool,
}
