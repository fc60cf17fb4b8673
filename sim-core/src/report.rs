//! The run report: the JSON contract scripts read (its JSON Schema is made from these
//! types: `twin-tui/schemas/run.schema.json`) and a human summary.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

// The measurement pieces live in `measure`; reports and their readers name them here too.
pub use crate::measure::{
    Latency, histogram_from_base64, histogram_to_base64, latency_histogram, round4,
};

/// One run's results. Field names and nesting are the public contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// Always `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"run"`.
    pub command: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// `"i/N"` for one shard of a fleet (`twin run --shard`); absent for a whole run or
    /// a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// How many reports were merged into this one (1 for a single run).
    #[serde(default = "one")]
    pub merged: u64,
    /// Simulated seconds covered.
    pub sim_seconds: f64,
    /// Wall-clock seconds from the first step to the end of draining.
    pub wall_seconds: f64,
    /// Broker used.
    pub broker: BrokerInfo,
    /// Device counts.
    pub devices: DeviceCounts,
    /// Message accounting.
    pub messages: MessageCounts,
    /// End-to-end latency, milliseconds; `null` when no message came back.
    pub latency_ms: Option<Latency>,
    /// The latency histogram (`"latency"`, µs) as base64 HdrHistogram V2, so shard
    /// reports merge exactly (as the load reports' `histograms`).
    #[serde(default)]
    pub histograms: BTreeMap<String, String>,
    /// Alert episodes raised by the analytics core.
    pub alerts: Vec<crate::analytics::fleet::Alert>,
    /// Ground truth: every fault injected.
    pub faults: Vec<crate::fault::FaultRecord>,
    /// What the timeline (or an operator) did on purpose that a detector may notice:
    /// `disconnect` episodes (until the device's `reconnect`), `rate` changes, `command`s
    /// applied (from the timeline or over MQTT) and a user model's state `transition`s.
    #[serde(default)]
    pub planned: Vec<crate::fault::FaultRecord>,
    /// Alerts graded against the faults and the planned episodes (`null` when there
    /// were neither).
    pub detection: Option<Detection>,
    /// Per device.
    pub per_device: Vec<DeviceReport>,
    /// The run was stopped before its duration (Ctrl-C).
    pub interrupted: bool,
    /// Session health.
    pub sessions: SessionCounts,
    /// Aggregates across devices, per device group and per environment.
    pub fleet: FleetAggregates,
    /// How the sim kept pace with the pipeline (absent from reports of older versions).
    #[serde(default)]
    pub flow: FlowReport,
    /// What arrived on the fleet's topics and was not counted as its telemetry, by
    /// reason and topic (absent from reports of older versions).
    #[serde(default)]
    pub rejected: crate::rejected::RejectedSummary,
    /// What a shorter `--duration` cut away from the scenario's timeline: events after
    /// it, and fault windows it ends early, in the scenario's words (absent when
    /// nothing was cut).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cut_by_duration: Vec<String>,
}

/// `flow`: how the sim kept pace with the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowReport {
    /// `"hold"`: the sim holds while the window is full; `"drop"`: it never holds, and a
    /// full outbox drops at source.
    pub mode: FlowMode,
    /// Messages in flight at most (`null` with `"drop"`).
    pub window: Option<u64>,
    /// The scenario's `speed`: a number, or `"max"`.
    #[schemars(schema_with = "speed_schema")]
    pub speed_requested: scenarios::Speed,
    /// Sim seconds per wall second the sim achieved, from its first step to its last.
    pub speed_achieved: f64,
    /// Wall seconds the sim held its clock because the window was full.
    pub held_seconds: f64,
    /// Messages the window wrote off as lost (messages sent after them came back, or
    /// nothing came back for the drain timeout) that never came back after all. They
    /// are counted in `lost` too.
    pub written_off: u64,
}

impl Default for FlowReport {
    fn default() -> Self {
        FlowReport {
            mode: FlowMode::Drop,
            window: None,
            speed_requested: scenarios::Speed::Factor(1.0),
            speed_achieved: 0.0,
            held_seconds: 0.0,
            written_off: 0,
        }
    }
}

/// `flow.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlowMode {
    /// Hold the sim clock while the window is full.
    Hold,
    /// Drop at source when the pipeline falls behind.
    Drop,
}

/// The report's `fleet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct FleetAggregates {
    /// Per `[[devices]]` group.
    pub groups: Vec<Aggregate>,
    /// Per environment.
    pub environments: Vec<Aggregate>,
}

/// Devices counted and readings summarised across one set of devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Aggregate {
    /// Group id template or environment name.
    pub name: String,
    /// Devices in the set.
    pub devices: u64,
    /// Of those, seen.
    pub seen: u64,
    /// Of those, online at the end.
    pub online: u64,
    /// Per reading: the distribution of device means.
    pub readings: BTreeMap<String, Spread>,
}

/// Mean and percentiles of per-device means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Spread {
    /// Mean of device means.
    pub mean: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
}

/// Serde default of `merged`: a report read without it is one run.
fn one() -> u64 {
    1
}

/// Aggregate `per_device` over sets of fleet indices.
pub fn aggregate(name: String, members: &[usize], per_device: &[DeviceReport]) -> Aggregate {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let (mut seen, mut online) = (0, 0);
    for &i in members {
        let d = &per_device[i];
        seen += u64::from(d.received > 0);
        online += u64::from(d.online);
        for (k, r) in &d.readings {
            values.entry(k.clone()).or_default().push(r.mean);
        }
    }
    let readings = values
        .into_iter()
        .map(|(k, mut v)| {
            v.sort_by(f64::total_cmp);
            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            (
                k,
                Spread {
                    mean: round4(mean),
                    p10: round4(q(0.1)),
                    p50: round4(q(0.5)),
                    p90: round4(q(0.9)),
                },
            )
        })
        .collect();
    Aggregate {
        name,
        devices: members.len() as u64,
        seen,
        online,
        readings,
    }
}

/// `broker`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BrokerInfo {
    /// `mqtt://host:port`.
    pub url: String,
    /// Started inside this process.
    pub embedded: bool,
}

/// `devices`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceCounts {
    /// In the scenario.
    pub total: u64,
    /// At least one message came back.
    pub seen: u64,
    /// Last status was `online` at the end of the run.
    pub online: u64,
}

/// `messages`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct MessageCounts {
    /// Accepted by the MQTT clients.
    pub sent: u64,
    /// Distinct messages that came back.
    pub received: u64,
    /// Sent but never received (sent − received, per device).
    pub lost: u64,
    /// Received more than once.
    pub duplicates: u64,
    /// Arrived after a higher `seq` of the same device.
    pub out_of_order: u64,
    /// Produced but never sent: the outbox or the client queue was full.
    pub dropped_at_source: u64,
    /// Payloads that could not be read (undecodable, or over 1 MiB).
    pub malformed: u64,
    /// Readable messages on the fleet's telemetry topics that the fleet did not send
    /// (a `seq` never sent, another device's id, a device not in the fleet): never
    /// counted as received. `rejected` says which and on what topics.
    #[serde(default)]
    pub foreign: u64,
}

/// `sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct SessionCounts {
    /// MQTT sessions the fleet opened: one per gateway and one per device without.
    #[serde(default)]
    pub opened: u64,
    /// Of those, gateways' sessions.
    #[serde(default)]
    pub gateways: u64,
    /// Failed connection attempts (each retried with backoff).
    pub connect_errors: u64,
    /// Connections made again after a drop.
    pub reconnects: u64,
    /// Commands received over MQTT and applied.
    pub commands_applied: u64,
    /// Commands refused (malformed, or not for this device).
    pub commands_rejected: u64,
}

/// One entry of `per_device`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceReport {
    /// Device id.
    pub id: String,
    /// Model name.
    pub model: String,
    /// Index in the whole (unsharded) fleet: `per_device` is in this order.
    pub fleet_index: u64,
    /// Its `[[devices]]` group's id template (as in `fleet.groups`).
    pub group: String,
    /// Its environment, if any (as in `fleet.environments`).
    pub environment: Option<String>,
    /// Publish period at the start of the run, seconds (grading uses it).
    pub publish_every: f64,
    /// Messages sent.
    pub sent: u64,
    /// Distinct messages received.
    pub received: u64,
    /// Sent but not received.
    pub lost: u64,
    /// Received more than once.
    pub duplicates: u64,
    /// Arrived after a higher `seq`.
    pub out_of_order: u64,
    /// `seq` numbers never seen below the highest one seen.
    pub gaps: u64,
    /// Dropped before sending.
    pub dropped_at_source: u64,
    /// Last status.
    pub online: bool,
    /// Per reading.
    pub readings: BTreeMap<String, ReadingSummary>,
    /// Per analysed reading, the analytics window at the end of the run.
    pub windows: BTreeMap<String, WindowSummary>,
}

/// An analysed reading's sliding window at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WindowSummary {
    /// Samples in the window.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub std: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Least-squares slope, units per hour.
    pub slope_per_hour: f64,
    /// `increasing`, `decreasing` or `stable`.
    pub trend: String,
}

/// min/mean/max of one reading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReadingSummary {
    /// Smallest.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Largest.
    pub max: f64,
}

impl Report {
    /// The summary printed at the end of `twin run`.
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        self.write_counts(&mut s);
        for cut in &self.cut_by_duration {
            let _ = writeln!(s, "cut       {cut}");
        }
        self.write_alerts(&mut s);
        self.write_detection(&mut s);
        self.write_readings(&mut s);
        s
    }

    /// The run line, then devices, messages, latency and sessions.
    fn write_counts(&self, s: &mut String) {
        let m = &self.messages;
        let _ = writeln!(
            s,
            "scenario {} (seed {}){}: {:.0} sim s in {:.1} wall s on {}{}",
            self.scenario,
            self.seed,
            if self.interrupted { " INTERRUPTED" } else { "" },
            self.sim_seconds,
            self.wall_seconds,
            self.broker.url,
            if self.broker.embedded {
                " (embedded)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "devices   {} total, {} seen, {} online",
            self.devices.total, self.devices.seen, self.devices.online
        );
        let _ = writeln!(
            s,
            "messages  {} sent, {} received, {} lost, {} duplicates, {} out of order, {} dropped at source, {} malformed",
            m.sent,
            m.received,
            m.lost,
            m.duplicates,
            m.out_of_order,
            m.dropped_at_source,
            m.malformed
        );
        self.rejected_lines(s);
        match &self.latency_ms {
            Some(l) => {
                let _ = writeln!(
                    s,
                    "latency   p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} samples)",
                    l.p50, l.p90, l.p99, l.p999, l.max, l.count
                );
            }
            None => {
                let _ = writeln!(s, "latency   no samples");
            }
        }
        let _ = writeln!(
            s,
            "sessions  {}{}, {} connect errors, {} reconnects; commands {} applied, {} refused",
            self.sessions.opened,
            match self.sessions.gateways {
                0 => String::new(),
                1 => " (1 gateway)".to_string(),
                g => format!(" ({g} gateways)"),
            },
            self.sessions.connect_errors,
            self.sessions.reconnects,
            self.sessions.commands_applied,
            self.sessions.commands_rejected
        );
        self.write_flow(s);
    }

    /// The speed asked for and achieved, and what held the sim back.
    fn write_flow(&self, s: &mut String) {
        let f = &self.flow;
        let asked = match f.speed_requested {
            scenarios::Speed::Max => "max".to_string(),
            scenarios::Speed::Factor(x) => format!("{x}x"),
        };
        let held = match (f.mode, f.window) {
            (FlowMode::Hold, Some(w)) => format!(
                "held {:.1} s by the pipeline (window {w} in flight), {} written off as lost",
                f.held_seconds, f.written_off
            ),
            _ => "never held (--drop-when-behind): a full outbox drops at source".to_string(),
        };
        let _ = writeln!(
            s,
            "speed     asked {asked}, achieved {:.1}x; {held}",
            f.speed_achieved
        );
    }

    /// Alert episodes by kind.
    fn write_alerts(&self, s: &mut String) {
        if !self.alerts.is_empty() {
            let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
            for a in &self.alerts {
                *by_kind.entry(a.kind.as_str()).or_default() += 1;
            }
            let list: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let _ = writeln!(s, "alerts    {} ({})", self.alerts.len(), list.join(", "));
        } else {
            let _ = writeln!(s, "alerts    none");
        }
    }

    /// Per fault kind: injected, detected, recall, precision and delays.
    fn write_detection(&self, s: &mut String) {
        if let Some(d) = &self.detection {
            let _ = writeln!(
                s,
                "detection {} injected; per kind: injected, detected, recall, precision, mean/max delay",
                if self.faults.len() == 1 {
                    "1 fault".to_string()
                } else {
                    format!("{} faults", self.faults.len())
                }
            );
            let opt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
            for (kind, k) in &d.per_kind {
                let _ = writeln!(
                    s,
                    "  {kind:<14} {:>5} {:>5} {:>7} {:>9} {:>8}/{:<8}",
                    k.injected,
                    k.detected,
                    opt(k.recall),
                    opt(k.precision),
                    opt(k.mean_delay_s),
                    opt(k.max_delay_s)
                );
            }
            let _ = writeln!(s, "  false alerts {}", d.false_alerts.len());
            if !self.planned.is_empty() {
                let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
                for p in &self.planned {
                    *kinds.entry(p.kind.as_str()).or_default() += 1;
                }
                let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let _ = writeln!(
                    s,
                    "  expected alerts {} (explained by {} planned changes: {})",
                    d.expected_alerts.len(),
                    self.planned.len(),
                    kinds.join(", ")
                );
            }
        }
    }

    /// A short per-model table: what the fleet measured.
    fn write_readings(&self, s: &mut String) {
        let mut by_model: BTreeMap<(&str, &str), (f64, f64, f64, u64)> = BTreeMap::new();
        for d in &self.per_device {
            for (name, r) in &d.readings {
                let e = by_model
                    .entry((d.model.as_str(), name.as_str()))
                    .or_insert((f64::INFINITY, 0.0, f64::NEG_INFINITY, 0));
                e.0 = e.0.min(r.min);
                e.1 += r.mean;
                e.2 = e.2.max(r.max);
                e.3 += 1;
            }
        }
        if !by_model.is_empty() {
            let _ = writeln!(
                s,
                "readings  (model / reading: min, mean of device means, max)"
            );
            for ((model, name), (min, sum, max, n)) in by_model {
                let _ = writeln!(
                    s,
                    "  {model:<14} {name:<14} {min:>10.2} {:>10.2} {max:>10.2}",
                    sum / n as f64
                );
            }
        }
    }
}

impl Report {
    /// What was not counted as the fleet's telemetry, when anything was: one line of
    /// counts by reason, and the three topics with the most.
    fn rejected_lines(&self, s: &mut String) {
        let r = &self.rejected;
        let parts: Vec<String> = [
            (r.malformed, "undecodable"),
            (r.oversized, "over 1 MiB"),
            (r.never_sent, "with a seq never sent"),
            (r.wrong_device, "naming another device than their topic"),
            (r.unknown_device, "from devices not in the fleet"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        if parts.is_empty() {
            return;
        }
        let _ = writeln!(
            s,
            "rejected  {} (not counted as received)",
            parts.join(", ")
        );
        for t in r.topics.iter().take(3) {
            let _ = writeln!(
                s,
                "          {} on {} ({})",
                t.count,
                t.topic,
                t.reason.name()
            );
        }
    }
}

impl MessageCounts {
    /// Add `other`'s counts to these (a device's to the fleet's, a shard's to the total).
    pub fn merge(&mut self, other: &MessageCounts) {
        self.sent += other.sent;
        self.received += other.received;
        self.lost += other.lost;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.dropped_at_source += other.dropped_at_source;
        self.malformed += other.malformed;
        self.foreign += other.foreign;
    }
}

/// Scores of one fault kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindScore {
    /// Faults injected.
    pub injected: u64,
    /// Faults with at least one matching alert.
    pub detected: u64,
    /// detected / injected (`null` when none injected).
    pub recall: Option<f64>,
    /// Alerts whose kind points at this fault kind.
    pub alerts: u64,
    /// Of those, alerts that match some fault.
    pub true_alerts: u64,
    /// true_alerts / alerts (`null` when there were no such alerts).
    pub precision: Option<f64>,
    /// Mean detection delay of detected faults, sim seconds.
    pub mean_delay_s: Option<f64>,
    /// Largest detection delay, sim seconds.
    pub max_delay_s: Option<f64>,
}

/// The report's `detection`: alerts graded against the injected faults
/// ([`crate::analytics::score`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Detection {
    /// The matching rule, in words.
    pub rule: String,
    /// Per fault kind.
    pub per_kind: BTreeMap<String, KindScore>,
    /// Alerts that match no fault and no planned episode.
    pub false_alerts: Vec<crate::analytics::fleet::Alert>,
    /// Alerts that match no fault but an episode the scenario planned (`planned`): a
    /// device it took off line, a rate it changed. Neither true nor false, and left out
    /// of every kind's precision.
    #[serde(default)]
    pub expected_alerts: Vec<crate::analytics::fleet::Alert>,
}

/// A scenario's speed as the report writes it: a factor, or `"max"`.
fn speed_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "oneOf": [{ "type": "number", "exclusiveMinimum": 0 }, { "const": "max" }]
    })
}
