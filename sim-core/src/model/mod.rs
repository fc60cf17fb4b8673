//! Components and the device-model library.
//!
//! The part behaviour (datasheet figures) lives in plain structs in [`sensors`], [`room`]
//! and [`household`], testable without the ECS; the components here wrap them with the
//! per-device state the systems need.

pub mod household;
pub mod room;
pub mod sensors;
pub mod user;

use crate::wire::Value;
use bevy_ecs::prelude::*;
use rand_chacha::ChaCha8Rng;

/// Fleet index of a device (its position in the scenario's device list).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIndex(pub u32);

/// When the device publishes next and what it has sent so far.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Publisher {
    /// Publish period, sim seconds.
    pub every: f64,
    /// Sim time of the next periodic publish.
    pub next_at: f64,
    /// Sequence number the next message will carry.
    pub seq: u64,
    /// A state change asks for a publish on the next pass.
    pub force: bool,
    /// Publishing this tick.
    pub due: bool,
}

/// The device's own random stream, seeded from (scenario seed, device id).
#[derive(Component, Debug, Clone)]
pub struct DeviceRng(pub ChaCha8Rng);

/// The room or zone the device sits in.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct InRoom(pub Entity);

/// Whether the device's MQTT session is meant to be up; a device offline does not publish.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Session up.
    pub online: bool,
    /// Battery exhausted: the device is dead for the rest of the run.
    pub dead: bool,
}

/// What this tick's publish will carry, gathered by the sensor and fault systems.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct Staged {
    /// Readings, in a fixed order per model.
    pub readings: Vec<(&'static str, Value)>,
    /// The twin's noise-free value of each analysed reading.
    pub expected: Vec<(&'static str, f64)>,
    /// Seconds added to the payload timestamp (clock-skew fault).
    pub skew: f64,
    /// Publish the message twice (duplicate fault).
    pub duplicate: bool,
    /// Send the message after the next one (reorder fault).
    pub hold: bool,
}

/// The last temperature a sensor measured, for thermostats that read it.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct MeasuredTemperature(pub Option<f64>);

/// A battery that loses a fixed charge per publish.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Battery {
    /// Capacity, mAh.
    pub capacity_mah: f64,
    /// Charge left, mAh.
    pub charge_mah: f64,
    /// Charge used per wake-up and publish, mAh.
    pub drain_mah: f64,
}

/// A room's thermal state (on environment entities).
#[derive(Component, Debug, Clone, PartialEq)]
pub struct RoomState(pub room::Room);

/// DHT22 part.
#[derive(Component, Debug, Clone)]
pub struct Dht22Part(pub sensors::Dht22);

/// BME280 part.
#[derive(Component, Debug, Clone)]
pub struct Bme280Part(pub sensors::Bme280);

/// DS18B20 part.
#[derive(Component, Debug, Clone)]
pub struct Ds18b20Part(pub sensors::Ds18b20);

/// TMP36 part on its ADC.
#[derive(Component, Debug, Clone)]
pub struct Tmp36Part(pub sensors::Tmp36);

/// PIR part.
#[derive(Component, Debug, Clone)]
pub struct PirPart(pub household::Pir);

/// Power meter.
#[derive(Component, Debug, Clone)]
pub struct MeterPart {
    /// The household load model.
    pub meter: household::PowerMeter,
    /// Power at the last step, W.
    pub watts: f64,
}

/// Soil-moisture probe and the soil it sits in.
#[derive(Component, Debug, Clone)]
pub struct SoilPart {
    /// The probe's calibration.
    pub probe: sensors::SoilProbe,
    /// True volumetric moisture, percent of saturation.
    pub moisture: f64,
    /// Loss per day at 20 °C, percentage points.
    pub dry_per_day: f64,
    /// The relay that waters this soil.
    pub irrigated_by: Option<Entity>,
}

/// A device of a user-defined model.
#[derive(Component, Debug, Clone)]
pub struct UserPart(pub user::UserDevice);

/// Marks a device that reports only its battery.
#[derive(Component, Debug, Clone, Copy)]
pub struct BatteryNode;

/// On/off output: relay, LED or heater.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    /// Output state.
    pub on: bool,
}

/// A heater's rated power (with [`Switch`]).
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct HeaterPower(pub f64);

/// Hysteresis thermostat: heat below `setpoint - hysteresis/2`, stop above
/// `setpoint + hysteresis/2`.
#[derive(Component, Debug, Clone, PartialEq)]
pub struct Thermostat {
    /// Target, °C.
    pub setpoint: f64,
    /// Band width, °C.
    pub hysteresis: f64,
    /// Off means heaters stay off.
    pub enabled: bool,
    /// Calling for heat.
    pub heating: bool,
    /// Remote sensor, or `None` for the built-in one.
    pub sensor: Option<Entity>,
    /// Heaters it drives.
    pub heaters: Vec<Entity>,
    /// Last temperature it acted on.
    pub temperature: Option<f64>,
    /// Built-in sensor calibration error, °C.
    pub builtin_offset: f64,
}
