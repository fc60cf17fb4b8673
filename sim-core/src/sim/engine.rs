//! [`Sim`]: a built world and its schedule, stepped by hand. No thread and no wall clock
//! here: [`Sim::step`] runs exactly n passes, for deterministic tests and benches, and the
//! sim thread ([`super::clock`]) calls the same method.

use super::io::SimIo;
use super::resources::{DeviceEntities, EnvEntities, SimClock, SimStats, Timeline};
use super::{build, schedule};
use crate::fault::GroundTruth;
use crate::model::{RoomState, Switch, Thermostat};
use bevy_ecs::prelude::*;
use scenarios::Scenario;

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
            schedule: schedule::schedule(),
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
        let mut s = self.counters().clone();
        s.faults = self.world.resource::<GroundTruth>().0.clone();
        s.planned = self.world.resource::<Timeline>().planned.0.clone();
        s
    }

    /// The run's flow window, when the sim has one.
    pub fn window(&self) -> Option<std::sync::Arc<crate::flow::Window>> {
        self.world.resource::<super::io::Io>().0.window.clone()
    }

    /// The counters as they stand, without the fault list (cheap: for progress reports).
    pub(crate) fn counters(&self) -> &SimStats {
        self.world.resource::<SimStats>()
    }

    /// True temperature of an environment, °C.
    pub fn room_temperature(&mut self, environment: usize) -> Option<f64> {
        let e = *self.world.resource::<EnvEntities>().0.get(environment)?;
        self.world.get::<RoomState>(e).map(|r| r.0.temperature)
    }

    /// On/off state of a relay, LED or heater.
    pub fn switch_state(&self, device: usize) -> Option<bool> {
        let e = *self.world.resource::<DeviceEntities>().0.get(device)?;
        self.world.get::<Switch>(e).map(|s| s.on)
    }

    /// A thermostat's state.
    pub fn thermostat(&self, device: usize) -> Option<Thermostat> {
        let e = *self.world.resource::<DeviceEntities>().0.get(device)?;
        self.world.get::<Thermostat>(e).cloned()
    }
}
