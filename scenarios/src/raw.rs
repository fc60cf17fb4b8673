//! The scenario file as written: serde types that mirror the TOML one table at a time.
//!
//! Every table denies unknown keys. Values that later checks may reject carry their
//! byte span (`Spanned`) so the error can name the line and column.

use crate::duration::Dur;
use crate::error::Located;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// Parse the text into tables (a scenario, or a model library); a TOML or type error
/// points at its place in `src`.
pub fn read<T: serde::de::DeserializeOwned>(src: &str, file: &str) -> Result<T, Located> {
    toml::from_str(src).map_err(|e| {
        if e.span().is_none()
            && let Some((span, parts)) = crate::depth::too_deep_key(src)
        {
            return Located::at(
                file,
                src,
                span,
                format!(
                    "this key has {parts} dotted parts; expected at most {}",
                    crate::depth::MAX_KEY_PARTS
                ),
            );
        }
        Located::at(
            file,
            src,
            e.span().unwrap_or(0..0),
            crate::suggest::unknown_field(&plain_types(e.message().trim_end())),
        )
    })
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
        .replace(
            "cannot recurse further; max recursion depth met",
            "arrays and tables nest too deep here; expected at most 80 levels",
        )
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Model library files, relative to this file.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    pub scenario: ScenarioTable,
    pub broker: Option<BrokerTable>,
    pub mqtt: Option<MqttTable>,
    #[serde(default)]
    pub environment: Vec<EnvironmentTable>,
    #[serde(default)]
    pub devices: Vec<DeviceGroupTable>,
    #[serde(default)]
    pub events: Vec<EventTable>,
    pub analytics: Option<AnalyticsTable>,
    #[serde(default)]
    pub rules: Vec<RuleTable>,
    #[serde(default)]
    pub models: Vec<crate::raw_model::ModelTable>,
}

/// `[analytics]`: detector settings for the whole fleet.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsTable {
    pub window: Option<Spanned<Dur>>,
    pub spike_method: Option<Spanned<String>>,
    pub spike_threshold: Option<Spanned<f64>>,
    pub stale_factor: Option<Spanned<f64>>,
}

/// `[[rules]]`: a threshold (with hysteresis and N-of-M debounce) or a rate limit on one
/// reading of some devices.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    pub sensor: Spanned<String>,
    pub target: Option<Spanned<String>>,
    pub above: Option<Spanned<f64>>,
    pub below: Option<Spanned<f64>>,
    pub hysteresis: Option<Spanned<f64>>,
    pub n: Option<Spanned<i64>>,
    pub m: Option<Spanned<i64>>,
    pub max_rate_per_s: Option<Spanned<f64>>,
}

/// `[scenario]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioTable {
    pub name: Spanned<String>,
    pub fleet: Option<Spanned<String>>,
    pub seed: Option<u64>,
    pub duration: Spanned<Dur>,
    pub tick: Option<Spanned<Dur>>,
    pub speed: Option<Spanned<Speed>>,
    /// Simulated wall-clock date at sim time 0, RFC 3339 (`"2026-01-15T06:00:00Z"`).
    pub start: Option<Spanned<String>>,
}

/// `[broker]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerTable {
    pub url: Spanned<String>,
}

/// `[mqtt]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttTable {
    pub qos: Option<Spanned<i64>>,
    pub telemetry_topic: Option<Spanned<String>>,
    pub command_topic: Option<Spanned<String>>,
    pub status_topic: Option<Spanned<String>>,
    pub encoding: Option<Spanned<String>>,
    pub keep_alive: Option<Spanned<Dur>>,
    pub client_id: Option<Spanned<String>>,
    pub sent_us: Option<bool>,
}

/// `[[environment]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentTable {
    pub name: Spanned<String>,
    pub count: Option<Spanned<i64>>,
    pub outdoor_mean: Option<Spanned<f64>>,
    pub outdoor_amplitude: Option<Spanned<f64>>,
    pub outdoor_peak_hour: Option<Spanned<f64>>,
    pub initial_temperature: Option<Spanned<f64>>,
    pub time_constant: Option<Spanned<Dur>>,
    pub heater_gain: Option<Spanned<f64>>,
    pub humidity: Option<Spanned<f64>>,
    pub humidity_amplitude: Option<Spanned<f64>>,
    pub pressure: Option<Spanned<f64>>,
    pub occupancy: Option<Spanned<f64>>,
}

/// `[[devices]]`: a group of identical devices. Model parameters sit beside the common
/// keys; each is checked against the model it is given to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceGroupTable {
    pub id: Spanned<String>,
    pub count: Option<Spanned<i64>>,
    pub model: Spanned<String>,
    pub environment: Option<Spanned<String>>,
    pub publish_every: Option<Spanned<Dur>>,
    pub jitter: Option<Spanned<Dur>>,
    pub battery_mah: Option<Spanned<f64>>,
    pub drain_mah: Option<Spanned<f64>>,
    pub convention: Option<Spanned<String>>,
    // Edge gateways.
    pub gateway: Option<Spanned<String>>,
    pub devices_per_gateway: Option<Spanned<i64>>,
    // Actuators.
    pub initial: Option<Spanned<bool>>,
    pub power_w: Option<Spanned<f64>>,
    // Thermostat.
    pub setpoint: Option<Spanned<f64>>,
    pub hysteresis: Option<Spanned<f64>>,
    pub sensor: Option<Spanned<String>>,
    pub heater: Option<Spanned<String>>,
    // PIR.
    pub events_per_hour: Option<Spanned<f64>>,
    pub hold: Option<Spanned<Dur>>,
    // Power meter.
    pub base_load_w: Option<Spanned<f64>>,
    // Soil moisture.
    pub irrigated_by: Option<Spanned<String>>,
    pub dry_per_day: Option<Spanned<f64>>,
    // Fault injection.
    #[serde(default)]
    pub faults: Vec<FaultTable>,
}

/// One fault a device may suffer: in a group's `faults = [...]` (random, `per_hour`) or in
/// an event's `fault = {...}` (at the event's time).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultTable {
    pub kind: Spanned<String>,
    pub sensor: Option<Spanned<String>>,
    pub magnitude: Option<Spanned<f64>>,
    pub duration: Option<Spanned<Dur>>,
    pub per_hour: Option<Spanned<f64>>,
    pub on: Option<Spanned<String>>,
}

/// `[[events]]`: one action on the timeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTable {
    pub at: Spanned<Dur>,
    pub target: Spanned<String>,
    pub action: Spanned<String>,
    pub set: Option<Spanned<BTreeMap<String, toml::Value>>>,
    pub publish_every: Option<Spanned<Dur>>,
    pub fault: Option<Spanned<FaultTable>>,
}

/// Sim seconds per wall second, or as fast as possible.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Simulated seconds per wall-clock second.
    Factor(f64),
    /// No pacing: step as fast as the machine allows.
    Max,
}

/// As it is written: a number, or `"max"` (the reports carry it so).
impl serde::Serialize for Speed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Speed::Factor(f) => s.serialize_f64(*f),
            Speed::Max => s.serialize_str("max"),
        }
    }
}

impl<'de> Deserialize<'de> for Speed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpeedVisitor;
        impl serde::de::Visitor<'_> for SpeedVisitor {
            type Value = Speed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number (sim seconds per wall second) or \"max\"")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Speed, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Speed, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Speed, E> {
                if v > 0.0 && v.is_finite() {
                    Ok(Speed::Factor(v))
                } else {
                    Err(E::custom(format!(
                        "speed {v} must be a positive number (sim seconds per wall second) or \"max\""
                    )))
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Speed, E> {
                if v == "max" {
                    Ok(Speed::Max)
                } else {
                    Err(E::custom(format!(
                        "speed \"{v}\" is not understood; expected a positive number or \"max\""
                    )))
                }
            }
        }
        d.deserialize_any(SpeedVisitor)
    }
}
