//! The simulation: a bevy_ecs world stepped on a fixed sim clock.
//!
//! [`Sim::step`] runs the schedule with no thread and no wall clock, for deterministic
//! tests and benches; [`clock::spawn`] runs the same schedule on its own named thread,
//! paced by the scenario's speed.

pub(crate) mod build;
pub mod clock;
mod systems;

use crate::model::{RoomState, Switch, Thermostat};
use crate::wire::Telemetry;
use bevy_ecs::prelude::*;
use scenarios::{Scenario, SetValue};
use tokio::sync::mpsc;

/// A command for one device, from MQTT or the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundCommand {
    /// Fleet index.
    pub device: u32,
    /// Keys to set.
    pub set: Vec<(String, SetValue)>,
}

/// What the transport must do to a device's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCommand {
    /// Drop the connection without DISCONNECT so the last will fires.
    Disconnect(u32),
    /// Connect again.
    Reconnect(u32),
}

/// The sim's channels to the outside. Every send is a `try_send`: the sim never blocks.
pub struct SimIo {
    /// Telemetry out (bounded).
    pub outbox: mpsc::Sender<Telemetry>,
    /// Commands in (bounded).
    pub commands: mpsc::Receiver<InboundCommand>,
    /// Session changes out.
    pub sessions: mpsc::UnboundedSender<SessionCommand>,
    /// Steering from an operator (the terminal UI): timeline actions applied now.
    pub steer: Option<mpsc::Receiver<Steer>>,
}

/// A timeline action applied at once to one device, by an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct Steer {
    /// Fleet index.
    pub device: u32,
    /// What to do (`Disconnect`, `Reconnect`, `Fault`, `Set`, `Rate`).
    pub action: scenarios::EventAction,
}

impl SimIo {
    /// Channels for a sim with no network: returns the io and the far ends.
    pub fn detached(
        outbox_capacity: usize,
    ) -> (
        SimIo,
        mpsc::Receiver<Telemetry>,
        mpsc::Sender<InboundCommand>,
        mpsc::UnboundedReceiver<SessionCommand>,
    ) {
        let (out_tx, out_rx) = mpsc::channel(outbox_capacity.max(1));
        let (cmd_tx, cmd_rx) = mpsc::channel(1024);
        let (ses_tx, ses_rx) = mpsc::unbounded_channel();
        (
            SimIo {
                outbox: out_tx,
                commands: cmd_rx,
                sessions: ses_tx,
                steer: None,
            },
            out_rx,
            cmd_tx,
            ses_rx,
        )
    }
}

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

/// A built world and its schedule.
pub struct Sim {
    world: World,
    schedule: Schedule,
    duration: f64,
}

impl Sim {
    /// Build the world for a scenario.
    pub fn new(scenario: &Scenario, io: SimIo) -> Sim {
        let world = build::world(scenario, io);
        Sim {
            world,
            schedule: systems::schedule(),
            duration: scenario.duration,
        }
    }

    /// Run `n` fixed steps.
    pub fn step(&mut self, n: u64) {
        for _ in 0..n {
            self.schedule.run(&mut self.world);
        }
    }

    /// Steps left until the scenario's duration.
    pub fn steps_left(&self) -> u64 {
        let c = self.clock();
        ((self.duration - c.now) / c.tick + 1e-6).floor().max(0.0) as u64
    }

    /// The clock.
    pub fn clock(&self) -> SimClock {
        *self.world.resource::<SimClock>()
    }

    /// Sim seconds since start.
    pub fn now(&self) -> f64 {
        self.clock().now
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        let mut s = self.world.resource::<SimStats>().clone();
        s.faults = self.world.resource::<crate::fault::GroundTruth>().0.clone();
        s
    }

    /// True temperature of an environment, °C.
    pub fn room_temperature(&mut self, environment: usize) -> Option<f64> {
        let e = *self
            .world
            .resource::<build::EnvEntities>()
            .0
            .get(environment)?;
        self.world.get::<RoomState>(e).map(|r| r.0.temperature)
    }

    /// On/off state of a relay, LED or heater.
    pub fn switch_state(&self, device: usize) -> Option<bool> {
        let e = *self
            .world
            .resource::<build::DeviceEntities>()
            .0
            .get(device)?;
        self.world.get::<Switch>(e).map(|s| s.on)
    }

    /// A thermostat's state.
    pub fn thermostat(&self, device: usize) -> Option<Thermostat> {
        let e = *self
            .world
            .resource::<build::DeviceEntities>()
            .0
            .get(device)?;
        self.world.get::<Thermostat>(e).cloned()
    }
}
