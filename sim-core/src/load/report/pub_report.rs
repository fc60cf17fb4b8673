//! The report of `twin load pub` and the merge of its shard reports.

use crate::load::buffer::Dropped;
use crate::load::error::LoadError;
use crate::load::report::conformance::{BrokerLimits, ReasonCount, add_reasons};
use crate::load::report::histograms::{add_histograms, one};
use crate::measure::{Latency, histogram_to_base64, round4};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Session connection outcome (`connect` in the load reports).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema,
)]
pub struct ConnectCounts {
    /// Sessions that got a CONNACK.
    pub connected: u64,
    /// Sessions that got none within the connect timeout.
    pub failed: u64,
    /// Connection errors seen while publishing (each followed by a reconnect attempt).
    pub errors: u64,
    /// Publishing sessions' connections made again after a lost one.
    #[serde(default)]
    pub reconnects: u64,
    /// The counting subscribers' connections made again after a lost one.
    #[serde(default)]
    pub subscriber_reconnects: u64,
}

/// The report of a `twin load pub` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadReport {
    /// `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"load pub"`.
    pub command: String,
    /// Broker used.
    pub broker: crate::report::BrokerInfo,
    /// `"i/N"` for one shard; absent for a whole run or a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// How many reports were merged into this one (1 for a single run).
    #[serde(default = "one")]
    pub merged: u64,
    /// Sessions this report covers.
    pub clients: u64,
    /// Devices this report covers (sessions × devices per session).
    pub devices: u64,
    /// Devices at least one of whose messages came back.
    #[serde(default)]
    pub devices_seen: u64,
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
    /// Why the run published at `qos_granted` rather than `qos` (`--downgrade-qos`
    /// under the broker's limit), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downgrade: Option<String>,
    /// The in-flight window each session used: `--inflight`, or the broker's Receive
    /// Maximum when lower.
    #[serde(default)]
    pub inflight: u64,
    /// Payload bytes (with `--payload`, the template's length; each message adds its
    /// `"twl"` member).
    pub size: u64,
    /// Payload bytes of the messages sent (each counted once; with `--payload`, the
    /// template with its `"twl"` member, so more than `size` a message).
    #[serde(default)]
    pub payload_bytes_sent: u64,
    /// Seconds from the first session start to the end of draining.
    pub wall_seconds: f64,
    /// Message accounting (same keys as `twin run`).
    pub messages: crate::report::MessageCounts,
    /// PUBACKs (QoS 1) or PUBCOMPs (QoS 2) received.
    pub acked: u64,
    /// Messages not sent, by reason (their sum is `messages.dropped_at_source`).
    #[serde(default)]
    pub dropped: Dropped,
    /// QoS 1/2 messages written again after a lost connection (each counted once in
    /// `sent`; a copy that reaches the subscriber twice is a duplicate).
    #[serde(default)]
    pub retransmitted: u64,
    /// Messages from devices outside this shard, seen by its subscriber and ignored.
    pub foreign: u64,
    /// Session connection outcome.
    pub connect: ConnectCounts,
    /// Messages received per second over the publishing period.
    pub received_per_s: f64,
    /// Latency from the actual send.
    pub latency_ms: Option<Latency>,
    /// Latency from the intended send time (coordinated omission corrected).
    pub latency_intended_ms: Option<Latency>,
    /// PUBLISH → PUBACK (QoS 1) or PUBCOMP (QoS 2).
    pub ack_ms: Option<Latency>,
    /// TCP connect + CONNECT → CONNACK.
    pub connect_ms: Option<Latency>,
    /// How late each publish left against its schedule.
    pub schedule_lag_ms: Option<Latency>,
    /// How far the generator fell behind its schedule at worst, ms.
    pub schedule_lag_max_ms: f64,
    /// CPU seconds (user + system) this process used.
    pub cpu_seconds: f64,
    /// True when the generator, not the broker, was the bottleneck: its schedule lag
    /// p99 exceeded 50 ms while it used most of a core or more.
    pub generator_behind: bool,
    /// The histograms behind the percentiles (µs, HdrHistogram V2 deflate, base64), so
    /// `twin report merge` adds shards exactly.
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

impl LoadReport {
    /// `qos_granted`, reading a report written before the key existed (0 there, with
    /// nothing downgraded) as `qos`: only a downgrade lowers it.
    pub fn granted(&self) -> u8 {
        if self.downgraded == 0 && self.downgrade.is_none() {
            self.qos
        } else {
            self.qos_granted
        }
    }
}

/// Add shard reports of one `twin load pub` into one: counts and histograms add (so
/// the merged percentiles are those of one run over all the messages), wall time is the
/// longest shard's.
pub fn merge(reports: &[LoadReport]) -> Result<LoadReport, LoadError> {
    let first = reports.first().ok_or(LoadError::NothingToMerge)?;
    let mut out = first.clone();
    out.shard = None;
    out.merged = 0;
    out.clients = 0;
    out.devices = 0;
    out.devices_seen = 0;
    out.messages = crate::report::MessageCounts::default();
    out.acked = 0;
    out.payload_bytes_sent = 0;
    out.dropped = Dropped::default();
    out.retransmitted = 0;
    out.foreign = 0;
    out.connect = ConnectCounts::default();
    out.received_per_s = 0.0;
    out.cpu_seconds = 0.0;
    out.wall_seconds = 0.0;
    out.generator_behind = false;
    out.downgraded = 0;
    out.qos_granted = first.granted();
    out.broker_reasons = Vec::new();
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for r in reports {
        if r.command != first.command || r.qos != first.qos {
            return Err(LoadError::Merge(format!(
                "cannot merge a {} report at QoS {} with a {} report at QoS {}",
                r.command, r.qos, first.command, first.qos
            )));
        }
        out.merged += r.merged;
        out.clients += r.clients;
        out.devices += r.devices;
        out.devices_seen += r.devices_seen;
        out.messages.merge(&r.messages);
        out.acked += r.acked;
        out.dropped.add(&r.dropped);
        out.retransmitted += r.retransmitted;
        out.foreign += r.foreign;
        out.connect.connected += r.connect.connected;
        out.connect.failed += r.connect.failed;
        out.connect.errors += r.connect.errors;
        out.connect.reconnects += r.connect.reconnects;
        out.connect.subscriber_reconnects += r.connect.subscriber_reconnects;
        out.received_per_s += r.received_per_s;
        out.cpu_seconds += r.cpu_seconds;
        out.wall_seconds = out.wall_seconds.max(r.wall_seconds);
        out.generator_behind |= r.generator_behind;
        out.downgraded += r.downgraded;
        out.qos_granted = out.qos_granted.min(r.granted());
        if r.inflight > 0 {
            out.inflight = match out.inflight {
                0 => r.inflight,
                w => w.min(r.inflight),
            };
        }
        add_reasons(&mut out.broker_reasons, &r.broker_reasons);
        if out.stopped_by.is_none() {
            out.stopped_by.clone_from(&r.stopped_by);
        }
        out.interrupted |= r.interrupted;
        out.payload_bytes_sent += r.payload_bytes_sent;
        add_histograms(&mut hists, &r.histograms)?;
    }
    let get = |n: &str| hists.get(n).and_then(Latency::of);
    out.latency_ms = get("latency");
    out.latency_intended_ms = get("intended");
    out.ack_ms = get("ack");
    out.connect_ms = get("connect");
    out.schedule_lag_ms = get("schedule_lag");
    out.schedule_lag_max_ms = out.schedule_lag_ms.map_or(0.0, |l| l.max);
    out.received_per_s = round4(out.received_per_s);
    out.cpu_seconds = round4(out.cpu_seconds);
    out.histograms = hists
        .iter()
        .map(|(k, h)| (k.clone(), histogram_to_base64(h)))
        .collect();
    Ok(out)
}
