//! A checked, expanded scenario: the types the engine reads, with nothing left to resolve.
//!
//! Device groups and their models are in `device`; everything else a scenario holds is here.

use crate::device::{DeviceSpec, GatewaySpec, GroupSpec};
use crate::fault::FaultSpec;
use crate::raw::Speed;

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
    /// `None` for a whole fleet; for one shard of it ([`Scenario::sharded`]), which one
    /// and where its devices sit in the whole fleet.
    pub shard: Option<ShardSpec>,
}

/// What a sharded scenario is a part of (`twin run --shard i/N`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardSpec {
    /// Zero-based shard index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
    /// The unsharded fleet index of each of this shard's devices.
    pub fleet_index: Vec<usize>,
    /// Ids of the fleet's devices that other shards run: their telemetry on a shared
    /// broker is the fleet's, not a stranger's.
    pub others: Vec<String>,
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
    /// A word: a user model's enumerated state, or a named command.
    Text(String),
}

impl SetValue {
    /// As a user model's state holds it.
    pub fn to_expr(&self) -> crate::user_model::ExprValue {
        use crate::user_model::ExprValue;
        match self {
            SetValue::Bool(b) => ExprValue::Boolean(*b),
            SetValue::Number(x) => ExprValue::Float(*x),
            SetValue::Text(t) => ExprValue::String(t.clone()),
        }
    }
}

impl Scenario {
    /// The fleet's gateways, in the order their first device comes.
    pub fn gateways(&self) -> Vec<GatewaySpec> {
        let mut out: Vec<GatewaySpec> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for (i, d) in self.devices.iter().enumerate() {
            let Some(gw) = &d.gateway else { continue };
            let k = *index.entry(gw.as_str()).or_insert_with(|| {
                out.push(GatewaySpec {
                    id: gw.clone(),
                    devices: Vec::new(),
                });
                out.len() - 1
            });
            out[k].devices.push(i);
        }
        out
    }

    /// MQTT sessions the fleet opens: one per gateway, one per device without.
    pub fn session_count(&self) -> usize {
        let own = self.devices.iter().filter(|d| d.gateway.is_none()).count();
        let gateways: std::collections::HashSet<&str> = self
            .devices
            .iter()
            .filter_map(|d| d.gateway.as_deref())
            .collect();
        own + gateways.len()
    }
}
