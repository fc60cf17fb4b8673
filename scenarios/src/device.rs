//! Devices after expansion: the group each came from, its model with parameters resolved,
//! its battery and faults.

use crate::catalog::ModelKind;
use crate::fault::FaultSpec;
use crate::user_model::UserModel;
use std::sync::Arc;

/// A `[[devices]]` group as written, for summaries.
#[derive(Debug, Clone)]
pub struct GroupSpec {
    /// The id template.
    pub id_template: String,
    /// Model of every device in the group.
    pub model: ModelKind,
    /// Number of devices.
    pub count: usize,
    /// Publish period, seconds.
    pub publish_every: f64,
    /// The convention its devices speak besides their telemetry.
    pub convention: Convention,
}

/// What a group's devices announce besides their flat JSON telemetry: `convention = ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Convention {
    /// Today's flat JSON on the fleet's topics, nothing more.
    #[default]
    Json,
    /// Home Assistant MQTT discovery: a retained config per reading, state and command,
    /// read from the same telemetry; announced again on Home Assistant's birth message.
    HomeAssistant,
}

impl Convention {
    /// Every convention, as `convention = "..."` names it.
    pub const ALL: [Convention; 2] = [Convention::Json, Convention::HomeAssistant];

    /// Its name in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Convention::Json => "json",
            Convention::HomeAssistant => "homeassistant",
        }
    }
}

/// One device of the fleet.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// Device id, unique in the fleet.
    pub id: String,
    /// Index into [`Scenario::groups`](crate::Scenario::groups).
    pub group: usize,
    /// Model and its parameters.
    pub model: ModelSpec,
    /// Index into [`Scenario::environments`](crate::Scenario::environments).
    pub environment: Option<usize>,
    /// Publish period, seconds.
    pub publish_every: f64,
    /// Largest random delay of the first publish, seconds.
    pub jitter: f64,
    /// Battery, if the device runs on one.
    pub battery: Option<BatterySpec>,
    /// Faults that strike at random (`per_hour`).
    pub faults: Vec<FaultSpec>,
    /// The edge gateway whose session the device publishes through; `None`: a session
    /// of its own.
    pub gateway: Option<String>,
}

/// A battery that drains a fixed charge per publish.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatterySpec {
    /// Capacity, mAh.
    pub capacity_mah: f64,
    /// Charge used by one wake-up and publish, mAh.
    pub drain_mah: f64,
}

/// A model with its parameters resolved (device references are fleet indices).
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSpec {
    /// DHT22.
    Dht22,
    /// BME280.
    Bme280,
    /// DS18B20.
    Ds18b20,
    /// TMP36 on a 12-bit, 3.3 V ADC.
    Tmp36,
    /// PIR motion sensor.
    Pir {
        /// Motion events per hour at full daytime occupancy.
        events_per_hour: f64,
        /// How long the output stays high after an event, seconds.
        hold: f64,
    },
    /// Household power meter.
    PowerMeter {
        /// Always-on load, W.
        base_load_w: f64,
    },
    /// Capacitive soil moisture.
    SoilMoisture {
        /// Relay that waters this probe's soil.
        irrigated_by: Option<usize>,
        /// Moisture lost per day at 20 °C, percentage points.
        dry_per_day: f64,
    },
    /// Battery monitor node.
    Battery,
    /// Relay.
    Relay {
        /// State at start.
        initial: bool,
    },
    /// LED.
    Led {
        /// State at start.
        initial: bool,
    },
    /// Heater.
    Heater {
        /// State at start.
        initial: bool,
        /// Rated power, W.
        power_w: f64,
    },
    /// Thermostat.
    Thermostat {
        /// Target temperature, °C.
        setpoint: f64,
        /// Full width of the band: heat below `setpoint - h/2`, stop above `setpoint + h/2`.
        hysteresis: f64,
        /// Temperature sensor it reads; `None` = its own built-in sensor.
        sensor: Option<usize>,
        /// Heaters it drives.
        heaters: Vec<usize>,
    },
    /// A model the scenario defines.
    User(Arc<UserModel>),
}

impl ModelSpec {
    /// The model's kind.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSpec::Dht22 => ModelKind::Dht22,
            ModelSpec::Bme280 => ModelKind::Bme280,
            ModelSpec::Ds18b20 => ModelKind::Ds18b20,
            ModelSpec::Tmp36 => ModelKind::Tmp36,
            ModelSpec::Pir { .. } => ModelKind::Pir,
            ModelSpec::PowerMeter { .. } => ModelKind::PowerMeter,
            ModelSpec::SoilMoisture { .. } => ModelKind::SoilMoisture,
            ModelSpec::Battery => ModelKind::Battery,
            ModelSpec::Relay { .. } => ModelKind::Relay,
            ModelSpec::Led { .. } => ModelKind::Led,
            ModelSpec::Heater { .. } => ModelKind::Heater,
            ModelSpec::Thermostat { .. } => ModelKind::Thermostat,
            ModelSpec::User(m) => ModelKind::User(m.clone()),
        }
    }
}

/// An edge gateway: one session that publishes for the devices behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewaySpec {
    /// Gateway id (its client id and status topic are filled from it).
    pub id: String,
    /// Fleet indices of its devices, in fleet order.
    pub devices: Vec<usize>,
}
