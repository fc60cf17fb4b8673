//! Fault ground truth: every fault the sim injects is recorded here (device, sensor,
//! kind, start, end) so the analytics can be graded against the truth
//! ([`crate::analytics::score`]) and the report can list it.
//!
//! The systems that strike, apply and end faults are part of the sim
//! (`sim/fault.rs`); this module holds only what readers outside the sim see.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

/// One injected fault, as the report's `faults` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
