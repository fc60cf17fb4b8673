//! Where a run stands, as the CLI's progress line and the UI read it.

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
    /// Wall seconds the sim has held so far for the pipeline (the flow window was full).
    pub held_seconds: f64,
    /// Latency percentiles of the last wall second's messages, ms (`None` without any).
    pub recent_p50_ms: Option<f64>,
    /// See `recent_p50_ms`.
    pub recent_p99_ms: Option<f64>,
}
