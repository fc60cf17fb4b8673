//! The schedule: systems in the fixed order inputs → physics → sensors → control →
//! publish, every step.

use super::control::run_thermostats;
use super::fault::{apply_faults, end_faults, strike_random_faults};
use super::gateway::spread_gateway_faults;
use super::inputs::{advance_clock, apply_inputs};
use super::physics::*;
use super::publish::*;
use super::sensors::*;
use super::user::{read_user, run_user_transitions};
use bevy_ecs::prelude::*;

/// The system sets of one step, run in this order. (Not to be confused with
/// [`crate::run::Phase`], where a whole run stands.)
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub enum StepSet {
    /// Clock, timeline, inbound commands.
    Inputs,
    /// Rooms, soil, people.
    Physics,
    /// Who publishes now, and what the sensors read.
    Sensors,
    /// Thermostats act on what was read.
    Control,
    /// Actuator states, batteries, and the send.
    Publish,
}

/// Every system in its set, the sets chained. Single-threaded (no `multi_threaded`
/// feature), so the order within a set is the order written here.
pub(crate) fn schedule() -> Schedule {
    let mut s = Schedule::default();
    s.configure_sets(
        (
            StepSet::Inputs,
            StepSet::Physics,
            StepSet::Sensors,
            StepSet::Control,
            StepSet::Publish,
        )
            .chain(),
    );
    s.add_systems(
        (
            advance_clock,
            apply_inputs,
            end_faults,
            strike_random_faults,
            spread_gateway_faults,
        )
            .chain()
            .in_set(StepSet::Inputs),
    );
    s.add_systems(
        (
            sum_heating_per_room,
            integrate_room_heat,
            step_motion,
            step_household_load,
            dry_and_water_soil,
        )
            .chain()
            .in_set(StepSet::Physics),
    );
    s.add_systems(
        (
            mark_due,
            read_dht22,
            read_bme280,
            read_ds18b20,
            read_tmp36,
            read_pir,
            read_power_meter,
            read_soil,
            read_user,
        )
            .chain()
            .in_set(StepSet::Sensors),
    );
    s.add_systems(run_thermostats.in_set(StepSet::Control));
    s.add_systems(
        (
            stage_switches,
            stage_thermostats,
            drain_batteries,
            apply_faults,
            run_user_transitions,
            publish_telemetry,
        )
            .chain()
            .in_set(StepSet::Publish),
    );
    s
}
