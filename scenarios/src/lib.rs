//! The twinfleet scenario language.
//!
//! A scenario is a TOML file (documented key by key in `scenarios/README.md`). [`load`]
//! reads it, checks it and expands its device groups into a flat fleet: a [`Scenario`].
//! Every problem is reported as one [`ScenarioError`] with the file, line and column.

mod broker_url;
mod catalog;
mod duration;
mod error;
mod expand;
mod fault;
mod raw;

pub use broker_url::BrokerUrl;
pub use catalog::{COMMON_KEYS, CommandValueKind, ModelKind};
pub use duration::Dur;
pub use error::{BrokerUrlError, DurationError, Located, ScenarioError};
pub use fault::{FaultKind, FaultSpec};
pub use raw::Speed;

use std::path::Path;

/// Read, check and expand a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&src, &path.display().to_string())
}

/// Check and expand scenario text; `file` is only used in error messages.
pub fn parse(src: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let raw: raw::RawScenario = toml::from_str(src).map_err(|e| {
        ScenarioError::Invalid(Located::at(
            file,
            src,
            e.span().unwrap_or(0..0),
            plain_types(e.message().trim_end()),
        ))
    })?;
    expand::expand(raw, src, file).map_err(ScenarioError::Invalid)
}

/// A checked, expanded scenario: everything the engine needs, nothing left to resolve.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// `[scenario] name`.
    pub name: String,
    /// Fleet name used in topics (`{fleet}`); defaults to the scenario name.
    pub fleet: String,
    /// Seed of every random draw.
    pub seed: u64,
    /// Simulated length of the run, seconds.
    pub duration: f64,
    /// Fixed simulation step, seconds.
    pub tick: f64,
    /// Pacing against the wall clock.
    pub speed: Speed,
    /// Unix time (seconds) of sim time 0; `timestamp` in telemetry is this plus sim time.
    pub start_epoch: f64,
    /// `[broker] url`, if the file names one (the command line may override it).
    pub broker_url: Option<String>,
    /// Wire settings.
    pub mqtt: MqttSpec,
    /// Rooms and zones, after `count` expansion.
    pub environments: Vec<EnvironmentSpec>,
    /// Device groups as written, for summaries.
    pub groups: Vec<GroupSpec>,
    /// Every device, in group order.
    pub devices: Vec<DeviceSpec>,
    /// Timeline, sorted by time.
    pub events: Vec<EventSpec>,
    /// Detector settings.
    pub analytics: AnalyticsSpec,
    /// Threshold and rate rules.
    pub rules: Vec<RuleSpec>,
}

/// `[analytics]` after defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyticsSpec {
    /// Sliding-window length, seconds.
    pub window: f64,
    /// Spike rule: robust z-score (median/MAD) instead of 3σ-style sigma.
    pub robust_spikes: bool,
    /// Spike threshold: σ (sigma) or robust z.
    pub spike_threshold: f64,
    /// A device is stale after this many publish periods without a message.
    pub stale_factor: f64,
}

impl Default for AnalyticsSpec {
    fn default() -> Self {
        AnalyticsSpec {
            window: 600.0,
            robust_spikes: false,
            spike_threshold: 4.0,
            stale_factor: 3.0,
        }
    }
}

/// A `[[rules]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// Fleet indices it applies to.
    pub devices: Vec<usize>,
    /// Reading name.
    pub sensor: String,
    /// Alarm above.
    pub above: Option<f64>,
    /// Alarm below.
    pub below: Option<f64>,
    /// Back inside by this much to clear.
    pub hysteresis: f64,
    /// Readings beyond the limit…
    pub n: usize,
    /// …among the last m.
    pub m: usize,
    /// Largest allowed change, units per second.
    pub max_rate_per_s: Option<f64>,
}

impl Scenario {
    /// Expected telemetry messages per simulated second for the whole fleet.
    pub fn expected_msgs_per_sim_second(&self) -> f64 {
        self.devices.iter().map(|d| 1.0 / d.publish_every).sum()
    }

    /// Index of a device by id.
    pub fn device_index(&self, id: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.id == id)
    }
}

/// Payload encoding on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Flat JSON object (the default).
    Json,
    /// The same map as MessagePack.
    MsgPack,
}

impl Encoding {
    /// Name as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Json => "json",
            Encoding::MsgPack => "msgpack",
        }
    }
}

/// `[mqtt]` after defaults.
#[derive(Debug, Clone)]
pub struct MqttSpec {
    /// 0, 1 or 2.
    pub qos: u8,
    /// Template with `{fleet}` and `{device}`.
    pub telemetry_topic: String,
    /// Template with `{fleet}` and `{device}`.
    pub command_topic: String,
    /// Template with `{fleet}` and `{device}`; retained `online`/`offline`.
    pub status_topic: String,
    /// Payload encoding.
    pub encoding: Encoding,
    /// MQTT keep-alive, seconds.
    pub keep_alive: f64,
    /// Client id template with `{fleet}` and `{device}`.
    pub client_id: String,
    /// Put the wall-clock send time (`sent_us`, Unix microseconds) in every payload.
    pub sent_us: bool,
}

impl Default for MqttSpec {
    fn default() -> Self {
        MqttSpec {
            qos: 1,
            telemetry_topic: "twin/{fleet}/{device}/telemetry".into(),
            command_topic: "twin/{fleet}/{device}/cmd".into(),
            status_topic: "twin/{fleet}/{device}/status".into(),
            encoding: Encoding::Json,
            keep_alive: 30.0,
            client_id: "{device}".into(),
            sent_us: false,
        }
    }
}

/// Fill `{fleet}` and `{device}` in a topic or client-id template.
pub fn fill_template(template: &str, fleet: &str, device: &str) -> String {
    template
        .replace("{fleet}", fleet)
        .replace("{device}", device)
}

/// A room or zone with a first-order thermal model.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentSpec {
    /// Name, after `{n}` expansion.
    pub name: String,
    /// Daily mean outdoor temperature, °C.
    pub outdoor_mean: f64,
    /// Half the daily outdoor swing, °C.
    pub outdoor_amplitude: f64,
    /// Hour of day (0–24) of the outdoor maximum.
    pub outdoor_peak_hour: f64,
    /// Room temperature at sim time 0, °C.
    pub initial_temperature: f64,
    /// Thermal time constant towards outdoor temperature, seconds.
    pub time_constant: f64,
    /// Warming rate per kW of heating switched on, °C per hour.
    pub heater_gain: f64,
    /// Mean relative humidity, %RH.
    pub humidity: f64,
    /// Half the daily humidity swing, %RH.
    pub humidity_amplitude: f64,
    /// Air pressure, hPa.
    pub pressure: f64,
    /// Scale of motion activity (1.0 = a lived-in room).
    pub occupancy: f64,
}

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
}

/// One device of the fleet.
#[derive(Debug, Clone)]
pub struct DeviceSpec {
    /// Device id, unique in the fleet.
    pub id: String,
    /// Index into [`Scenario::groups`].
    pub group: usize,
    /// Model and its parameters.
    pub model: ModelSpec,
    /// Index into [`Scenario::environments`].
    pub environment: Option<usize>,
    /// Publish period, seconds.
    pub publish_every: f64,
    /// Largest random delay of the first publish, seconds.
    pub jitter: f64,
    /// Battery, if the device runs on one.
    pub battery: Option<BatterySpec>,
    /// Faults that strike at random (`per_hour`).
    pub faults: Vec<FaultSpec>,
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
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    /// Sim time, seconds.
    pub at: f64,
    /// Fleet indices of the devices it applies to.
    pub devices: Vec<usize>,
    /// What happens.
    pub action: EventAction,
}

/// What an event does.
#[derive(Debug, Clone, PartialEq)]
pub enum EventAction {
    /// Send a command, as a controller would (`{"set":{...}}`).
    Set(Vec<(String, SetValue)>),
    /// Drop the device's MQTT session without DISCONNECT, so its last will fires.
    Disconnect,
    /// Open the session again.
    Reconnect,
    /// Change the publish period, seconds.
    Rate(f64),
    /// Inject a fault now.
    Fault(FaultSpec),
}

/// A value in a `set` command.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A word; accepted by the language, though no model takes a text command yet.
    Text(String),
}

/// serde names Rust types in its messages; say what a scenario author writes instead.
fn plain_types(message: &str) -> String {
    message
        .replace("expected i64", "expected a whole number (integer)")
        .replace(
            "expected u64",
            "expected a whole number (integer) of at least 0",
        )
        .replace("expected f64", "expected a number")
        .replace("expected a boolean", "expected true or false")
}
