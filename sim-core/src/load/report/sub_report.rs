//! The report of `twin load sub`.

use crate::load::report::conformance::{BrokerLimits, ReasonCount};
use crate::measure::Latency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the subscribers counted, summed over them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
pub struct SubCounts {
    /// Messages received, all kinds, duplicates included.
    pub received: u64,
    /// Distinct timed messages (publisher, seq).
    pub distinct: u64,
    /// Timed messages whose seq had been received before by the same subscriber.
    pub duplicates: u64,
    /// Timed messages whose seq was below the highest already seen from their publisher.
    pub out_of_order: u64,
    /// Seqs missing between the first and the last seen of each publisher.
    pub gaps: u64,
    /// Payloads without the load header.
    pub untimed: u64,
}

/// The report of `twin load sub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SubReport {
    /// `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"load sub"`.
    pub command: String,
    /// Broker used.
    pub broker: crate::report::BrokerInfo,
    /// `"i/N"` for one shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Subscribing sessions.
    pub clients: u64,
    /// Subscribers that got their SUBACK.
    pub subscribed: u64,
    /// The topic filter.
    pub filter: String,
    /// QoS asked for.
    pub qos: u8,
    /// The QoS the messages got: `qos`, or less when the broker granted less (a SUBACK
    /// granting less, a PUBACK to a QoS 2 publish, or `--downgrade-qos` under its
    /// Maximum QoS).
    #[serde(default)]
    pub qos_granted: u8,
    /// Acknowledgements and grants below the QoS they acknowledge (PUBACKs to QoS 2
    /// publishes, SUBACKs granting less than asked).
    #[serde(default)]
    pub downgraded: u64,
    /// Seconds listened.
    pub wall_seconds: f64,
    /// Counts over all subscribers.
    pub messages: SubCounts,
    /// Distinct publishers seen (timed payloads).
    pub publishers: u64,
    /// Messages received per second, all subscribers together.
    pub received_per_s: f64,
    /// Latency from the send time in the payload.
    pub latency_ms: Option<Latency>,
    /// The histogram behind it (µs, HdrHistogram V2 deflate, base64).
    pub histograms: BTreeMap<String, String>,
    /// What the broker's CONNACK announced (MQTT 5 properties; all `null` from a 3.1.1
    /// broker).
    #[serde(default)]
    pub broker_limits: BrokerLimits,
    /// Every DISCONNECT and non-zero reason code the broker sent, by packet and code.
    #[serde(default)]
    pub broker_reasons: Vec<ReasonCount>,
    /// Why the broker ended the run, when it did (the same DISCONNECT reason to a session
    /// again and again before it ever stayed up); the command then exits 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
    /// A signal (SIGINT, SIGTERM, SIGHUP) ended the run before its end; the counts and
    /// `wall_seconds` cover the time until then (exit code 130).
    #[serde(default)]
    pub interrupted: bool,
    /// Each `--fail-on` condition with what the run measured, and whether it held (the
    /// command then exits 3); empty without `--fail-on`.
    #[serde(default)]
    pub fail_on: Vec<crate::load::gate::Verdict>,
}
