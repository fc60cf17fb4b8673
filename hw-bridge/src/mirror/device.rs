//! What the mirror keeps per device: its counters, online state, readings, shadow and
//! twin, and its open alerts.

use crate::adapter::Adapter;
use crate::config::DeviceConfig;
use crate::shadow::Shadow;
use crate::twin::Twin;
use scenarios::ModelKind;
use std::collections::BTreeMap;

/// One mirrored device as the mirror keeps it.
#[derive(Debug)]
pub(super) struct Device {
    pub(super) cfg: DeviceConfig,
    pub(super) adapter: Adapter,
    pub(super) received: u64,
    pub(super) malformed: u64,
    pub(super) last_malformed: Option<String>,
    pub(super) online: bool,
    pub(super) last_seen: Option<f64>,
    pub(super) readings: BTreeMap<String, Acc>,
    pub(super) shadow: Shadow,
    pub(super) twin: Option<Twin>,
    /// Index in the analytics core, from the first reading on.
    pub(super) index: Option<u32>,
    pub(super) model: Option<ModelKind>,
    pub(super) last_seq: Option<u64>,
    pub(super) lost: u64,
    /// Open alerts of the mirror's own: disagreement with the twin, offline.
    pub(super) divergence: Option<usize>,
    pub(super) offline: Option<usize>,
}

/// A reading's running statistics.
#[derive(Debug, Clone, Copy)]
pub(super) struct Acc {
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) sum: f64,
    pub(super) count: u64,
    pub(super) last: f64,
}

impl Acc {
    /// Take one value.
    pub(super) fn add(&mut self, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.count += 1;
        self.last = v;
    }
}
