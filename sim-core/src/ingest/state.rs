//! Everything ingest has counted ([`IngestState`]), and the history of the one device a
//! reader watches ([`Watched`]).

use super::tally::DeviceTally;
use crate::analytics::fleet::FleetAnalytics;
use crate::rejected::{Reason, Rejected};
use crate::warn_limit::WarnLimit;
use hdrhistogram::Histogram;
use std::collections::HashMap;

/// Everything ingest has counted.
#[derive(Debug)]
pub struct IngestState {
    /// Per device, by fleet index.
    pub devices: Vec<DeviceTally>,
    /// End-to-end latency, microseconds.
    pub latency_us: Histogram<u64>,
    /// End-to-end latency since the run loop last took it (one wall second).
    pub latency_recent_us: Histogram<u64>,
    /// What arrived on the fleet's topics and was not counted as its telemetry.
    pub rejected: Rejected,
    /// Which warnings about rejected messages are logged.
    pub(super) warns: WarnLimit<Reason>,
    /// The analytics core, fed every decoded message.
    pub analytics: FleetAnalytics,
    /// Unix seconds of sim time 0, to read timestamps as sim time.
    pub start_epoch: f64,
    /// Recent history of the one device a reader is watching (the UI's detail view).
    pub watched: Option<Watched>,
    /// Devices found while attached to a running fleet: id and guessed model, by index.
    pub attached: Vec<(String, scenarios::ModelKind)>,
    /// Attach mode: most devices kept ([`MAX_ATTACHED`] unless set); beyond, a new id
    /// is counted in `over_cap` and as an unknown device, and nothing of it is kept.
    pub attach_cap: usize,
    /// Attach mode: messages of new device ids refused because the cap was reached.
    pub over_cap: u64,
    /// Attach mode: statuses (retained, so they come first) of devices not seen yet.
    pub(super) pending_status: HashMap<String, bool>,
    index: HashMap<String, u32>,
    /// Ids of the fleet's devices that other shards run: their telemetry is not counted.
    pub(super) others: std::collections::HashSet<String>,
    /// The devices behind each gateway, by the gateway's id: its status is theirs.
    pub(super) gateways: HashMap<String, Vec<u32>>,
}

/// Most devices an attached ingest keeps by default: what it holds stays bounded
/// whatever ids strangers invent.
pub const MAX_ATTACHED: usize = 10_000;

/// Most points per reading, and raw messages, kept for a watched device.
const WATCH_POINTS: usize = 240;
const WATCH_RAW: usize = 6;

/// History of one watched device.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watched {
    /// Fleet index.
    pub device: u32,
    /// Per reading: (sim time, value), oldest first.
    pub series: Vec<(String, std::collections::VecDeque<(f64, f64)>)>,
    /// The latest raw payloads (text, cut at 200 characters), oldest first.
    pub raw: std::collections::VecDeque<String>,
}

impl Watched {
    /// Keep a message's readings (at `ts`, sim seconds) and its raw text.
    pub(super) fn record(&mut self, ts: f64, readings: &[(String, f64)], payload: &[u8]) {
        for (name, v) in readings {
            let pos = match self.series.iter().position(|(n, _)| n == name) {
                Some(p) => p,
                None => {
                    self.series.push((name.clone(), Default::default()));
                    self.series.len() - 1
                }
            };
            let q = &mut self.series[pos].1;
            q.push_back((ts, *v));
            if q.len() > WATCH_POINTS {
                q.pop_front();
            }
        }
        let text: String = String::from_utf8_lossy(payload).chars().take(200).collect();
        self.raw.push_back(text);
        if self.raw.len() > WATCH_RAW {
            self.raw.pop_front();
        }
    }
}

impl IngestState {
    /// Start keeping history for `device` (dropping any other's); `None` stops.
    pub fn watch(&mut self, device: Option<u32>) {
        if self.watched.as_ref().map(|w| w.device) != device {
            self.watched = device.map(|d| Watched {
                device: d,
                ..Watched::default()
            });
        }
    }
}

impl IngestState {
    /// Empty state for a fleet of these ids, analysed by `analytics`.
    pub fn new(ids: &[String], analytics: FleetAnalytics, start_epoch: f64) -> IngestState {
        IngestState {
            devices: vec![DeviceTally::default(); ids.len()],
            latency_us: crate::report::latency_histogram(),
            latency_recent_us: crate::report::latency_histogram(),
            rejected: Rejected::default(),
            warns: WarnLimit::default(),
            analytics,
            start_epoch,
            watched: None,
            attached: Vec::new(),
            attach_cap: MAX_ATTACHED,
            over_cap: 0,
            pending_status: HashMap::new(),
            others: Default::default(),
            gateways: HashMap::new(),
            index: ids
                .iter()
                .enumerate()
                .map(|(i, id)| (id.clone(), i as u32))
                .collect(),
        }
    }

    /// Add a device found while running (attach mode); returns its index.
    pub fn add_device(&mut self, id: &str, model: scenarios::ModelKind, period: f64) -> u32 {
        let i = self
            .analytics
            .add_device(id.to_string(), model.clone(), period);
        self.devices.push(DeviceTally {
            online: self.pending_status.remove(id),
            ..DeviceTally::default()
        });
        self.attached.push((id.to_string(), model));
        self.index.insert(id.to_string(), i);
        i
    }

    /// Fleet index of a device id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Leave the telemetry of these devices (the other shards' part of the fleet, on a
    /// shared broker) uncounted, instead of counting it as a stranger's.
    pub fn ignore(&mut self, others: &[String]) {
        self.others.extend(others.iter().cloned());
    }

    /// The fleet's gateways: a gateway's `offline` (its last will) takes every device
    /// behind it off line.
    pub fn set_gateways(&mut self, gateways: &[scenarios::GatewaySpec]) {
        self.gateways = gateways
            .iter()
            .map(|g| (g.id.clone(), g.devices.iter().map(|&d| d as u32).collect()))
            .collect();
    }
}
