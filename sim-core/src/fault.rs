//! Fault ground truth: every fault the sim injects is recorded here (device, sensor,
//! kind, start, end) so the analytics can be graded against the truth
//! ([`crate::analytics::score`]) and the report can list it.
//!
//! The systems that strike, apply and end faults are part of the sim
//! (`sim/fault.rs`); this module holds only what readers outside the sim see.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

/// One injected fault, as the report's `faults` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FaultRecord {
    /// Fleet index.
    #[serde(skip)]
    pub device_index: u32,
    /// Device id (filled by the run).
    pub device: String,
    /// Affected reading, for per-sensor faults.
    pub sensor: Option<String>,
    /// Kind name.
    pub kind: String,
    /// Sim seconds.
    pub start: f64,
    /// Sim seconds (the end of the run for faults that never end).
    pub end: f64,
}

/// Everything injected so far.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct GroundTruth(pub Vec<FaultRecord>);

/// What the scenario's timeline (or an operator) did on purpose that a detector may
/// rightly notice: a device taken off line (`disconnect`, until its `reconnect`) and a
/// publish rate changed (`rate`, at its time). The grader reports the alerts these
/// explain as expected, apart from the injected faults.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct Planned(pub Vec<FaultRecord>);

impl Planned {
    /// `device` went off line on purpose at `now` (an episode open until it is back).
    pub(crate) fn disconnect(&mut self, device: u32, now: f64) {
        let open = self
            .0
            .iter()
            .any(|p| p.device_index == device && p.kind == "disconnect" && p.end.is_infinite());
        if !open {
            let mut r = FaultRecord::point(device, None, "disconnect", now);
            r.end = f64::INFINITY;
            self.0.push(r);
        }
    }

    /// `device` is back at `now`: its open `disconnect` ends.
    pub(crate) fn reconnect(&mut self, device: u32, now: f64) {
        let open =
            self.0.iter_mut().rev().find(|p| {
                p.device_index == device && p.kind == "disconnect" && p.end.is_infinite()
            });
        if let Some(p) = open {
            p.end = now;
        }
    }

    /// `device`'s publish period changed at `now`.
    pub(crate) fn rate(&mut self, device: u32, now: f64) {
        self.0.push(FaultRecord::point(device, None, "rate", now));
    }

    /// A command changed `device`'s state at `now` (a timeline `set`, or one that came
    /// over MQTT); the devices whose readings that state moves (`driven`: a valve's soil
    /// probe, a heater's room) changed on purpose too.
    pub(crate) fn command(&mut self, device: u32, now: f64, driven: &[u32]) {
        for &d in std::iter::once(&device).chain(driven) {
            self.0.push(FaultRecord::point(d, None, "command", now));
        }
    }

    /// A user model's transition changed `device`'s state at `now`.
    pub(crate) fn transition(&mut self, device: u32, now: f64) {
        self.0
            .push(FaultRecord::point(device, None, "transition", now));
    }
}

impl FaultRecord {
    /// A fault that strikes one message: it starts and ends at `at`.
    pub(crate) fn point(device: u32, sensor: Option<String>, kind: &str, at: f64) -> FaultRecord {
        FaultRecord {
            device_index: device,
            device: String::new(),
            sensor,
            kind: kind.to_string(),
            start: at,
            end: at,
        }
    }
}
