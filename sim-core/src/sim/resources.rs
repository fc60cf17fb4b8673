//! The world's resources: the sim clock, the sim's own counters, and the lookup tables
//! the systems use (fleet index → entity, environment → entity, the timeline).

use bevy_ecs::prelude::*;
use scenarios::EventSpec;

/// Counters the sim keeps about itself.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct SimStats {
    /// Messages handed to the outbox.
    pub produced: u64,
    /// Messages not sent because the outbox was full (per device, by fleet index).
    pub dropped_at_source: Vec<u64>,
    /// Commands accepted.
    pub commands_applied: u64,
    /// Commands refused (unknown key or wrong type for the device).
    pub commands_rejected: u64,
    /// Steps run.
    pub steps: u64,
    /// Faults injected (filled from the ground truth when stats are read).
    pub faults: Vec<crate::fault::FaultRecord>,
    /// What the timeline did on purpose (filled from [`crate::fault::Planned`] when
    /// stats are read).
    pub planned: Vec<crate::fault::FaultRecord>,
    /// Wall seconds the sim thread held its clock because the flow window was full
    /// (filled by the sim thread when it ends).
    pub held_seconds: f64,
    /// Wall seconds from the sim thread's first step to its last (filled by the sim
    /// thread when it ends).
    pub ran_seconds: f64,
}

impl SimStats {
    /// Total dropped at source.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_at_source.iter().sum()
    }
}

/// The sim clock (a resource).
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct SimClock {
    /// Sim seconds since start.
    pub now: f64,
    /// Step length, seconds.
    pub tick: f64,
    /// Unix seconds at sim time 0.
    pub start_epoch: f64,
}

impl SimClock {
    /// Unix seconds now.
    pub fn unix(&self) -> f64 {
        self.start_epoch + self.now
    }
}

/// Fleet index → entity.
#[derive(Resource, Debug, Clone)]
pub(crate) struct DeviceEntities(pub Vec<Entity>);

/// Environment index → entity.
#[derive(Resource, Debug, Clone)]
pub(crate) struct EnvEntities(pub Vec<Entity>);

/// The timeline and how far the sim has got through it.
#[derive(Resource, Debug, Clone)]
pub(crate) struct Timeline {
    pub events: Vec<EventSpec>,
    pub next: usize,
    /// What the timeline and the operator did on purpose so far.
    pub planned: crate::fault::Planned,
    /// The devices each actuator's state moves.
    pub driven: Driven,
}

/// The devices whose readings an actuator's state moves, by fleet index: a valve's soil
/// probes, and the other devices in a heater's room (or a thermostat's heaters' rooms),
/// at most [`Driven::CAP`] an actuator. A command to the actuator is a planned change of
/// theirs too.
#[derive(Debug, Clone, Default)]
pub(crate) struct Driven(pub std::collections::HashMap<u32, Vec<u32>>);

impl Driven {
    /// Most devices one actuator is said to drive.
    pub const CAP: usize = 64;

    /// The devices `actuator` drives.
    pub fn of(&self, actuator: u32) -> &[u32] {
        self.0.get(&actuator).map_or(&[], Vec::as_slice)
    }
}
