//! What a run shows while the sim runs: the receive rate and recent latency (once a wall
//! second), and fleet snapshots for the UI (four times a second).

use super::progress::{Phase, Progress};
use crate::ingest::IngestState;
use crate::sim::clock::SimProgress;
use crate::snapshot::{FleetSnapshot, SnapshotHead, p50_p99_ms};
use scenarios::Scenario;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most wall seconds of receive rate a snapshot carries.
const RATE_SECONDS: usize = 120;

/// The run's view of the fleet between looks.
pub(super) struct Monitor {
    /// For the snapshot head.
    url: String,
    embedded: bool,
    /// Messages received per wall second, for the UI's rate chart, oldest first.
    recv_rate: Vec<u64>,
    last_rate_at: Instant,
    last_received: u64,
    last_snapshot: Instant,
}

impl Monitor {
    /// Nothing counted yet; the first snapshot is due at once.
    pub(super) fn new(url: &str, embedded: bool) -> Monitor {
        Monitor {
            url: url.to_string(),
            embedded,
            recv_rate: Vec::new(),
            last_rate_at: Instant::now(),
            last_received: 0,
            last_snapshot: Instant::now() - Duration::from_secs(1),
        }
    }

    /// Once a wall second: the messages received in it, and the latency percentiles of
    /// that second into `prog` (the recent histogram starts over).
    pub(super) fn count_rate(&mut self, prog: &mut Progress, state: &Mutex<IngestState>) {
        if self.last_rate_at.elapsed() < Duration::from_secs(1) {
            return;
        }
        if let Ok(mut st) = state.lock() {
            (prog.recent_p50_ms, prog.recent_p99_ms) = p50_p99_ms(&st.latency_recent_us);
            st.latency_recent_us.reset();
        }
        self.recv_rate.push(prog.received - self.last_received);
        if self.recv_rate.len() > RATE_SECONDS {
            self.recv_rate.remove(0);
        }
        self.last_received = prog.received;
        self.last_rate_at = Instant::now();
    }

    /// Every 250 ms: a fresh snapshot to `tx`, with the history of the device a reader
    /// watches (`watched`, a fleet index; out of range for none).
    pub(super) fn snapshot(
        &mut self,
        tx: &watch::Sender<Arc<FleetSnapshot>>,
        scenario: &Scenario,
        state: &Mutex<IngestState>,
        sp: &SimProgress,
        prog: &Progress,
        watched: Option<usize>,
    ) {
        if self.last_snapshot.elapsed() < Duration::from_millis(250) {
            return;
        }
        self.last_snapshot = Instant::now();
        let Ok(mut st) = state.lock() else { return };
        if let Some(d) = watched {
            st.watch((d < scenario.devices.len()).then_some(d as u32));
        }
        let head = SnapshotHead {
            broker: self.url.clone(),
            embedded: self.embedded,
            phase: Phase::Running,
            sim_now: sp.now,
            sent: prog.sent,
            dropped_at_source: sp.dropped_at_source,
        };
        let snap = FleetSnapshot::build(scenario, &st, head, &self.recv_rate);
        drop(st);
        tx.send_replace(Arc::new(snap));
    }
}
