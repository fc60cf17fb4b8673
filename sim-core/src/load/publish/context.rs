//! What every step of one `load pub` run shares: the spec, the broker, this shard's
//! sessions, the counters and the counting state.

use crate::load::codec::connect::connect_packet;
use crate::load::dial::{Target, bad_input};
use crate::load::observed::Observed;
use crate::load::process::process_cpu_seconds;
use crate::load::publish::spec::{LoadSpec, PERSISTENT_EXPIRY_S};
use crate::load::publish::tally::SubState;
use crate::load::report::BrokerLimits;
use crate::load::sampler::LoadCounters;
use crate::load::shard::run_tag;
use crate::run::RunError;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Keep-alive of every session of a run.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// What every step of one `load pub` run shares.
pub(crate) struct PubRun<'a> {
    /// What to run.
    pub spec: &'a LoadSpec,
    /// The broker.
    pub target: Target,
    /// This shard's sessions (global indices).
    pub sessions: Range<usize>,
    /// Devices per session.
    pub dps: usize,
    /// Running totals, sampled each second.
    pub counters: Arc<LoadCounters>,
    /// What the counting subscribers counted.
    pub state: Arc<Mutex<SubState>>,
    /// Keeps this process's client ids apart from another's.
    pub tag: String,
    /// CPU time at the start.
    pub cpu0: Option<f64>,
    /// What the sessions saw of the broker (reason codes, downgrades, a kick).
    pub observed: Arc<Observed>,
    /// What the broker announced in CONNACK.
    pub limits: BrokerLimits,
    /// The QoS the publishers use: the spec's, or the broker's limit with
    /// `--downgrade-qos`.
    pub qos: u8,
    /// Why `qos` is below the spec's, when it is.
    pub downgrade: Option<String>,
    /// The in-flight window: `--inflight`, or the broker's Receive Maximum when lower.
    pub inflight: usize,
}

impl PubRun<'_> {
    /// Check the spec, start (or find) the broker, set up the counting.
    pub async fn prepare(spec: &LoadSpec) -> Result<PubRun<'_>, RunError> {
        let sessions = spec.shard.range(spec.clients);
        let dps = spec.devices_per_session.max(1);
        let (dev_base, n_devices) = (sessions.start * dps, sessions.len() * dps);
        if dev_base + n_devices > u32::MAX as usize {
            return Err(RunError::BadInput(format!(
                "{} devices do not fit the 32-bit device index",
                spec.clients * dps
            )));
        }
        let target = Target::open(
            spec.broker.as_deref(),
            &spec.security,
            sessions.len(),
            &spec.source_ips,
        )
        .await?;
        Ok(PubRun {
            spec,
            target,
            sessions,
            dps,
            counters: Arc::new(LoadCounters::default()),
            state: Arc::new(Mutex::new(SubState::new(dev_base, n_devices))),
            tag: run_tag(),
            cpu0: process_cpu_seconds(),
            observed: Arc::new(Observed::new(spec.qos)),
            limits: BrokerLimits::default(),
            qos: spec.qos,
            downgrade: None,
            inflight: spec.inflight.max(1),
        })
    }

    /// A session's CONNECT.
    pub fn connect_packet(&self, client_id: &str) -> Result<Vec<u8>, RunError> {
        let persistent = self.spec.persistent.then_some(PERSISTENT_EXPIRY_S);
        connect_packet(
            client_id,
            KEEP_ALIVE.as_secs() as u16,
            self.spec.protocol.is_v5(),
            self.target.ep.credentials(),
            persistent,
        )
        .map_err(bad_input)
    }
}
