//! What the ingest tasks share with the run: [`Ingest`] and [`IngestCounters`].

use super::state::IngestState;
use super::topics::Topics;
use crate::transport::dispatch::SendLog;
use crate::wire::Encoding;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Counters the run watches while draining.
#[derive(Debug, Default)]
pub struct IngestCounters {
    /// Distinct telemetry messages received.
    pub unique: AtomicU64,
    /// All telemetry messages received, duplicates included.
    pub total: AtomicU64,
    /// Woken after each message.
    pub notify: Notify,
}

/// Everything the ingest task needs.
pub struct Ingest {
    /// Shared state (locked briefly per message).
    pub state: Arc<Mutex<IngestState>>,
    /// Atomics for progress and drain.
    pub counters: Arc<IngestCounters>,
    /// Send times recorded by the dispatcher.
    pub send_log: Arc<SendLog>,
    /// Payload encoding.
    pub encoding: Encoding,
    /// Topics.
    pub topics: Topics,
    /// Attached to a fleet this process did not start: unknown devices are added as
    /// they appear instead of being counted as strangers.
    pub attach: bool,
}
