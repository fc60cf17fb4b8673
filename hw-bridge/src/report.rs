//! The `twin mirror --json` report: the run report's fixed keys, with
//! one `per_device` entry per mirrored device carrying its readings, `online` and
//! `shadow`, and its twin's residual when it has one.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sim_core::analytics::fleet::Alert;
use sim_core::report::{BrokerInfo, DeviceCounts, Latency, MessageCounts};
use std::collections::BTreeMap;

/// One mirror run's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MirrorReport {
    /// Always `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"mirror"`.
    pub command: String,
    /// The fleet name (`[mirror] fleet`).
    pub scenario: String,
    /// Nothing random in a mirror: 0.
    pub seed: u64,
    /// Seconds mirrored (the time axis of `alerts`).
    pub sim_seconds: f64,
    /// Wall seconds, the same here.
    pub wall_seconds: f64,
    /// The devices' broker.
    pub broker: BrokerInfo,
    /// Devices configured, seen, online at the end.
    pub devices: DeviceCounts,
    /// `received`: messages from mirrored devices; `lost`: gaps in the `seq` of devices
    /// that count their messages; `malformed`: payloads that could not be read.
    pub messages: MessageCounts,
    /// No latency is measured from devices whose clocks are not ours: `null`.
    pub latency_ms: Option<Latency>,
    /// Alerts: the analytics core's (spike, stuck, drift, stale, offline…), and the
    /// mirror's own `divergence` (device disagrees with its twin) and `unconfirmed` (a
    /// desired state the device did not confirm in time). Times are seconds from the start.
    pub alerts: Vec<Alert>,
    /// Per device.
    pub per_device: Vec<MirroredDevice>,
    /// Native commands published to devices.
    pub commands_sent: u64,
    /// Malformed payloads on topics several devices share, so no one device's.
    pub unattributed_malformed: u64,
    /// Stopped by Ctrl-C or SIGTERM before `--duration`.
    pub interrupted: bool,
}

/// One entry of `per_device`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MirroredDevice {
    /// Device id.
    pub id: String,
    /// Model the analytics used (configured or guessed), `null` before any reading.
    pub model: Option<String>,
    /// Adapter name.
    pub adapter: String,
    /// Messages from this device that were read.
    pub received: u64,
    /// `seq` numbers skipped (devices that send one).
    pub lost: u64,
    /// Messages that could not be read.
    pub malformed: u64,
    /// The last reason a message could not be read.
    pub last_malformed: Option<String>,
    /// Online at the end: seen, not silent past `stale_after`, last will not fired.
    pub online: bool,
    /// Seconds from the start of the last message, `null` if none.
    pub last_seen: Option<f64>,
    /// Per reading.
    pub readings: BTreeMap<String, Reading>,
    /// The shadow at the end.
    pub shadow: ShadowReport,
    /// The twin's view, for a bound device.
    pub twin: Option<TwinReport>,
}

/// min/mean/max/last of a reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reading {
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
    /// Latest.
    pub last: f64,
    /// How many.
    pub count: u64,
}

/// The shadow in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShadowReport {
    /// What was asked for.
    pub desired: Map<String, Value>,
    /// What the device reported.
    pub reported: Map<String, Value>,
    /// Desired but not (yet) reported.
    pub delta: Map<String, Value>,
    /// Version.
    pub version: u64,
}

/// A bound twin in a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TwinReport {
    /// The reading compared.
    pub reading: String,
    /// The twin's prediction at the end.
    pub predicted: Option<f64>,
    /// The last reading minus the prediction.
    pub residual: Option<f64>,
    /// Largest |residual|.
    pub max_abs_residual: f64,
    /// The bound heater was on at the end.
    pub heater_on: bool,
    /// A disagreement was open at the end.
    pub diverging: bool,
}

impl MirrorReport {
    /// The summary printed at the end of `twin mirror`.
    pub fn summary_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "mirror {}{}: {:.1} s on {}",
            self.scenario,
            if self.interrupted { " INTERRUPTED" } else { "" },
            self.wall_seconds,
            self.broker.url
        );
        let _ = writeln!(
            s,
            "devices   {} configured, {} seen, {} online; {} {}, {} malformed, {} {} sent",
            self.devices.total,
            self.devices.seen,
            self.devices.online,
            self.messages.received,
            if self.messages.received == 1 {
                "message"
            } else {
                "messages"
            },
            self.messages.malformed,
            self.commands_sent,
            if self.commands_sent == 1 {
                "command"
            } else {
                "commands"
            }
        );
        for d in &self.per_device {
            let readings: Vec<String> = d
                .readings
                .iter()
                .map(|(k, r)| format!("{k} {}", r.last))
                .collect();
            let _ = write!(
                s,
                "  {:<16} {:<8} {:<7} {:>6} msgs",
                d.id,
                d.adapter,
                if d.online { "online" } else { "offline" },
                d.received
            );
            if d.malformed > 0 {
                let _ = write!(s, " ({} malformed)", d.malformed);
            }
            if !readings.is_empty() {
                let _ = write!(s, "  {}", readings.join(", "));
            }
            if !d.shadow.reported.is_empty() {
                let _ = write!(s, "  reported {}", Value::Object(d.shadow.reported.clone()));
            }
            if !d.shadow.delta.is_empty() {
                let _ = write!(s, "  delta {}", Value::Object(d.shadow.delta.clone()));
            }
            if let Some(t) = &d.twin
                && let (Some(p), Some(r)) = (t.predicted, t.residual)
            {
                let _ = write!(s, "  twin {:.2} (residual {r:+.2})", p);
            }
            let _ = writeln!(s);
        }
        let _ = writeln!(s, "alerts    {}", self.alerts.len());
        for a in self.alerts.iter().take(20) {
            let _ = writeln!(
                s,
                "  {:<16} {:<12} {:<14} at {:.1} s{}",
                a.device,
                a.sensor.as_deref().unwrap_or("-"),
                a.kind,
                a.start,
                a.end
                    .map_or(" (open)".to_string(), |e| format!(" to {e:.1} s"))
            );
        }
        s
    }
}
