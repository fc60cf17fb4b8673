//! The device models a scenario may name, with what each needs and accepts: the built-in
//! library, and the models a scenario defines itself (`[[models]]`).

use crate::user_model::UserModel;
use std::sync::Arc;

/// A model name from the library, before its parameters are checked.
#[derive(Debug, Clone)]
pub enum ModelKind {
    /// Aosong DHT22 / AM2302 temperature and humidity sensor.
    Dht22,
    /// Bosch BME280 temperature, humidity and pressure sensor.
    Bme280,
    /// Maxim DS18B20 1-Wire temperature sensor.
    Ds18b20,
    /// Analog Devices TMP36 on a 12-bit ADC.
    Tmp36,
    /// PIR motion sensor (HC-SR501 style).
    Pir,
    /// Household power meter.
    PowerMeter,
    /// Capacitive soil-moisture probe.
    SoilMoisture,
    /// A battery monitor node.
    Battery,
    /// On/off relay.
    Relay,
    /// On/off LED.
    Led,
    /// Electric heater coupled into its room's thermal model.
    Heater,
    /// Hysteresis thermostat driving heaters.
    Thermostat,
    /// A model the scenario defines (`[[models]]`).
    User(Arc<UserModel>),
}

/// Two kinds are the same when they have the same name (a scenario's model names are
/// unique and never a built-in's).
impl PartialEq for ModelKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ModelKind {}

impl std::hash::Hash for ModelKind {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name().hash(h);
    }
}

/// Keys every device group accepts.
pub const COMMON_KEYS: &[&str] = &[
    "id",
    "count",
    "model",
    "environment",
    "publish_every",
    "jitter",
    "battery_mah",
    "drain_mah",
    "gateway",
    "devices_per_gateway",
    "convention",
    "faults",
];

impl ModelKind {
    /// Every model, in the order `twin check` and error messages list them.
    pub const ALL: [ModelKind; 12] = [
        ModelKind::Dht22,
        ModelKind::Bme280,
        ModelKind::Ds18b20,
        ModelKind::Tmp36,
        ModelKind::Pir,
        ModelKind::PowerMeter,
        ModelKind::SoilMoisture,
        ModelKind::Battery,
        ModelKind::Relay,
        ModelKind::Led,
        ModelKind::Heater,
        ModelKind::Thermostat,
    ];

    /// The name written in scenario files.
    pub fn name(&self) -> &str {
        match self {
            ModelKind::User(m) => &m.name,
            ModelKind::Dht22 => "dht22",
            ModelKind::Bme280 => "bme280",
            ModelKind::Ds18b20 => "ds18b20",
            ModelKind::Tmp36 => "tmp36",
            ModelKind::Pir => "pir",
            ModelKind::PowerMeter => "power_meter",
            ModelKind::SoilMoisture => "soil_moisture",
            ModelKind::Battery => "battery",
            ModelKind::Relay => "relay",
            ModelKind::Led => "led",
            ModelKind::Heater => "heater",
            ModelKind::Thermostat => "thermostat",
        }
    }

    /// Look a name up; `None` for names not in the library.
    pub fn from_name(name: &str) -> Option<ModelKind> {
        ModelKind::ALL.into_iter().find(|m| m.name() == name)
    }

    /// `dht22, bme280, ...` for error messages.
    pub fn valid_names() -> String {
        ModelKind::ALL
            .iter()
            .map(ModelKind::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Model-specific keys accepted beside [`COMMON_KEYS`].
    pub fn param_keys(&self) -> &'static [&'static str] {
        match self {
            ModelKind::User(_) => &[],
            ModelKind::Relay | ModelKind::Led => &["initial"],
            ModelKind::Heater => &["initial", "power_w"],
            ModelKind::Thermostat => &["setpoint", "hysteresis", "sensor", "heater"],
            ModelKind::Pir => &["events_per_hour", "hold"],
            ModelKind::PowerMeter => &["base_load_w"],
            ModelKind::SoilMoisture => &["irrigated_by", "dry_per_day"],
            ModelKind::Dht22
            | ModelKind::Bme280
            | ModelKind::Ds18b20
            | ModelKind::Tmp36
            | ModelKind::Battery => &[],
        }
    }

    /// Whether the model reads or heats a room and so needs `environment`.
    pub fn needs_environment(&self) -> bool {
        if let ModelKind::User(m) = self {
            return m.uses_environment;
        }
        matches!(
            self,
            ModelKind::Dht22
                | ModelKind::Bme280
                | ModelKind::Ds18b20
                | ModelKind::Tmp36
                | ModelKind::Pir
                | ModelKind::Heater
                | ModelKind::Thermostat
                | ModelKind::SoilMoisture
        )
    }

    /// Default publish period in seconds.
    pub fn default_publish_every(&self) -> f64 {
        match self {
            ModelKind::User(m) => m.publish_every,
            ModelKind::SoilMoisture | ModelKind::Battery => 60.0,
            ModelKind::Relay | ModelKind::Led | ModelKind::Heater => 30.0,
            ModelKind::Thermostat => 30.0,
            ModelKind::Tmp36 => 5.0,
            _ => 10.0,
        }
    }

    /// Shortest publish period the real part allows (its minimum sampling or conversion time).
    pub fn min_publish_every(&self) -> Option<(f64, &'static str)> {
        match self {
            ModelKind::Dht22 => Some((2.0, "the DHT22 datasheet's minimum sampling period is 2 s")),
            ModelKind::Ds18b20 => Some((
                0.75,
                "the DS18B20 needs 750 ms for a 12-bit temperature conversion",
            )),
            _ => None,
        }
    }

    /// Whether the model measures a temperature a thermostat can read.
    pub fn measures_temperature(&self) -> bool {
        if let ModelKind::User(m) = self {
            return m.readings.iter().any(|r| r.name == "temperature");
        }
        matches!(
            self,
            ModelKind::Dht22 | ModelKind::Bme280 | ModelKind::Ds18b20 | ModelKind::Tmp36
        )
    }

    /// The readings this model publishes (a user model's published states too), for
    /// `twin check`.
    pub fn readings(&self) -> Vec<&str> {
        let names: &[&str] = match self {
            ModelKind::User(m) => {
                let readings = m.readings.iter().map(|r| r.name.as_str());
                let states = m.states.iter().filter(|s| s.publish);
                return readings.chain(states.map(|s| s.name.as_str())).collect();
            }
            ModelKind::Dht22 => &["temperature", "humidity"],
            ModelKind::Bme280 => &["temperature", "humidity", "pressure"],
            ModelKind::Ds18b20 => &["temperature"],
            ModelKind::Tmp36 => &["raw", "temperature"],
            ModelKind::Pir => &["motion", "motion_events"],
            ModelKind::PowerMeter => &["power", "energy_kwh", "voltage"],
            ModelKind::SoilMoisture => &["moisture", "raw"],
            ModelKind::Battery => &["battery", "voltage"],
            ModelKind::Relay | ModelKind::Led => &["on"],
            ModelKind::Heater => &["on", "power"],
            ModelKind::Thermostat => &["temperature", "setpoint", "heating", "enabled"],
        };
        names.to_vec()
    }

    /// Readings the analytics core watches (measured quantities, not states or counters).
    pub fn analysed_readings(&self) -> Vec<&str> {
        let names: &[&str] = match self {
            ModelKind::User(m) => return m.analysed().collect(),
            ModelKind::Dht22 => &["temperature", "humidity"],
            ModelKind::Bme280 => &["temperature", "humidity", "pressure"],
            ModelKind::Ds18b20 | ModelKind::Tmp36 => &["temperature"],
            ModelKind::PowerMeter => &["voltage"],
            ModelKind::SoilMoisture => &["moisture"],
            ModelKind::Battery => &["voltage"],
            _ => &[],
        };
        names.to_vec()
    }

    /// The unit a reading of this model is in, for people (`°C`, `%`, `W`); `None` for
    /// counts, raw ADC values and on/off states.
    pub fn unit(&self, reading: &str) -> Option<&str> {
        if let ModelKind::User(m) = self {
            return m
                .readings
                .iter()
                .find(|r| r.name == reading)
                .and_then(|r| r.unit.as_deref());
        }
        Some(match reading {
            "temperature" | "setpoint" => "°C",
            "humidity" | "moisture" => "%",
            "battery" if *self == ModelKind::Battery => "%",
            "pressure" => "hPa",
            "power" => "W",
            "energy_kwh" => "kWh",
            "voltage" => "V",
            _ => return None,
        })
    }

    /// Whether a reading of this model is an on/off state (published as a boolean).
    pub fn is_switch(&self, reading: &str) -> bool {
        if let ModelKind::User(m) = self {
            return m
                .states
                .iter()
                .any(|s| s.name == reading && s.kind == crate::user_model::StateKind::Bool);
        }
        matches!(reading, "on" | "heating" | "enabled" | "motion")
    }

    /// Whether the model takes commands on its command topic.
    pub fn is_actuator(&self) -> bool {
        if let ModelKind::User(m) = self {
            return !m.states.is_empty();
        }
        matches!(
            self,
            ModelKind::Relay | ModelKind::Led | ModelKind::Heater | ModelKind::Thermostat
        )
    }
}

impl ModelKind {
    /// Keys a `{"set":{...}}` command may carry for this model, with the kind of value.
    /// A user model's states are its keys, and `command` names one of its commands.
    pub fn command_keys(&self) -> Vec<(&str, CommandValueKind)> {
        use crate::user_model::StateKind;
        let keys: &[(&str, CommandValueKind)] = match self {
            ModelKind::User(m) => {
                let mut keys: Vec<(&str, CommandValueKind)> = m
                    .states
                    .iter()
                    .map(|s| {
                        let kind = match s.kind {
                            StateKind::Bool => CommandValueKind::Bool,
                            StateKind::Number(_) => CommandValueKind::Number,
                            StateKind::Enum(_) => CommandValueKind::Word,
                        };
                        (s.name.as_str(), kind)
                    })
                    .collect();
                if !m.commands.is_empty() {
                    keys.push(("command", CommandValueKind::Word));
                }
                return keys;
            }
            ModelKind::Relay | ModelKind::Led | ModelKind::Heater => {
                &[("on", CommandValueKind::Bool)]
            }
            ModelKind::Thermostat => &[
                ("setpoint", CommandValueKind::Number),
                ("enabled", CommandValueKind::Bool),
            ],
            _ => &[],
        };
        keys.to_vec()
    }
}

/// The type a command key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandValueKind {
    /// `true`/`false`.
    Bool,
    /// A number.
    Number,
    /// A word (a user model's enumerated state, or a command's name).
    Word,
}
