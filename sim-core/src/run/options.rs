//! What a run is told beyond the scenario file: [`RunOptions`], and the [`Control`]s an
//! operator (the terminal UI) sends while it runs.

use crate::sim::clock;
use crate::snapshot::FleetSnapshot;
use crate::transport::endpoint::Security;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How a run is set up beyond the scenario file.
#[derive(Debug)]
pub struct RunOptions {
    /// Broker URL; overrides the scenario's; `None` and no URL in the file = embedded.
    pub broker_url: Option<String>,
    /// How long to wait for messages still in flight after the last step.
    pub drain_timeout: Duration,
    /// How long to wait for the broker and for every session to connect.
    pub connect_timeout: Duration,
    /// How long a broker whose name does not resolve or whose port refuses connections
    /// is tried again before the run fails (a broker still starting); zero: not at all.
    pub wait_for_broker: Duration,
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
    /// Keep the retained `status` messages the run leaves on a real broker (each
    /// device's last state); by default they are cleared when the run ends.
    pub keep_retained: bool,
    /// Retained announcements of the fleet's conventions (Home Assistant discovery),
    /// published once the sessions are up and cleared at the end with the statuses.
    pub announce: crate::transport::announce::Announce,
    /// How the sim keeps pace with the pipeline.
    pub flow: Flow,
}

/// How the sim keeps pace with the pipeline (sessions, broker, ingest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Hold the sim clock while `window` messages are in flight (handed to the
    /// pipeline, not yet seen by ingest), or while one device has
    /// [`crate::flow::PER_DEVICE`] in flight. `None`: [`crate::flow::PER_INGEST_SESSION`]
    /// per ingest session. Nothing is dropped at source; the sim slows instead.
    Hold {
        /// Messages in flight at most.
        window: Option<u64>,
    },
    /// Never hold: when the pipeline falls behind, messages are dropped at source
    /// (counted), as a device with a full buffer would.
    Drop,
}

impl Default for Flow {
    fn default() -> Self {
        Flow::Hold { window: None }
    }
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
            wait_for_broker: Duration::ZERO,
            connect_concurrency: 256,
            security: Security::default(),
            snapshots: None,
            watch: None,
            pacing: None,
            controls: None,
            keep_retained: false,
            announce: Default::default(),
            flow: Flow::default(),
        }
    }
}
