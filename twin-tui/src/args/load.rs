//! `twin load SCENARIO` and `twin load pub|sub|conn`.

use crate::args::broker::BrokerArgs;
use crate::args::run::RunArgs;
use crate::args::values::{parse_dur, parse_dur_or_zero};
use clap::Subcommand;
use scenarios::Dur;
use sim_core::load::{BufferPolicy, Shard};
use std::net::IpAddr;
use std::path::PathBuf;

/// `twin load SCENARIO` or `twin load pub|sub|conn ...`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct LoadArgs {
    /// Synthetic load.
    #[command(subcommand)]
    pub command: Option<LoadCommand>,
    /// Without a subcommand: a scenario file (TOML) whose fleet of twins runs in real
    /// time (speed 1 unless --speed says otherwise) as the load, realistic telemetry
    /// instead of synthetic payloads, with a load line each second and the run report.
    #[arg(value_name = "SCENARIO", required = true)]
    pub file: Option<PathBuf>,
    /// The flags of `twin run`, for `twin load SCENARIO`.
    #[command(flatten)]
    pub scenario: RunArgs,
}

impl LoadArgs {
    /// `twin load SCENARIO` as the run it is.
    pub fn into_run(self) -> RunArgs {
        RunArgs {
            scenario: self.file,
            ..self.scenario
        }
    }
}

/// `twin load ...`.
#[derive(Debug, Subcommand)]
pub enum LoadCommand {
    /// N publishers on an open-loop schedule, counted by an in-process subscriber:
    /// sent, received, lost, duplicates, reordering, latency from the actual and from
    /// the intended send time, PUBACK/PUBCOMP latency; a line each second.
    ///
    /// Exit codes: 0 done, 1 failed (broker unreachable, sessions that never
    /// connected), 2 bad flags, 3 a --fail-on condition held (or --fail-on-loss and a
    /// message was lost), 130 interrupted (the report is still written).
    Pub(LoadPubArgs),
    /// Open N sessions at a ramp rate and hold them, pinging at the keep-alive; report
    /// CONNECT→CONNACK latency percentiles, failures and refusals, and the memory each
    /// held session cost this process; a line each second.
    ///
    /// Exit codes: 0 done, 1 failed (a session did not connect, or dropped during the
    /// hold), 2 bad flags, 3 a --fail-on condition held, 130 interrupted (the report is
    /// still written).
    Conn(LoadConnArgs),
    /// N subscribers on a topic filter: receive rate, and for `twin load pub` payloads
    /// (from another process or machine) duplicates, reordering, gaps in each
    /// publisher's sequence and latency from the send time.
    ///
    /// Exit codes: 0 done, 1 failed (a subscriber did not subscribe), 2 bad flags, 3 a
    /// --fail-on condition held, 130 interrupted (the report is still written).
    Sub(LoadSubArgs),
}

/// The interval series as files.
#[derive(Debug, clap::Args)]
pub struct SeriesArgs {
    /// Write the interval series (one row a second) as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Write each second's latency histogram as an HdrHistogram interval log (values in
    /// µs, max column in ms), readable by HistogramLogProcessor and friends.
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
}

/// `twin load sub`.
#[derive(Debug, clap::Args)]
pub struct LoadSubArgs {
    /// Which broker, how.
    #[command(flatten)]
    pub target: BrokerArgs,
    /// Subscribing sessions (over all shards); each receives every matching message.
    #[arg(short = 'c', long, default_value_t = 1)]
    pub clients: usize,
    /// Topic filter; wildcards + and # allowed.
    #[arg(short = 't', long, default_value = "twin-load/#")]
    pub topic: String,
    /// QoS 0, 1 or 2.
    #[arg(short = 'q', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// How long to listen once subscribed.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub duration: Dur,
    /// Stop each subscriber after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Run the i-th of N disjoint slices of the subscribers, e.g. 0/4.
    #[arg(long, value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// Give up on a subscriber with no SUBACK after this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// A broker whose name does not resolve or whose port refuses connections is tried
    /// again for this long (a broker still starting), then the command fails; by default
    /// it fails at once, naming the cause.
    #[arg(long, value_parser = parse_dur_or_zero, default_value = "0s", value_name = "DURATION")]
    pub wait_for_broker: Dur,
    /// Write the JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Interval series files.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// No interval lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Exit 3 when any of these conditions holds (an SLO gate), e.g.
    /// 'p99>50ms,loss>0,dup>0.1%,connect_fail>0'. Figures: p50, p90, p99, p999, max
    /// (latency; us, ms or s), loss (gaps in the publishers' sequences), dup, reorder,
    /// connect_fail (subscribers that did not subscribe); a count, or with % a share of
    /// what arrived. Each is named in the summary and in the report's fail_on.
    #[arg(long, value_name = "CONDITIONS")]
    pub fail_on: Option<String>,
}

/// `twin load conn`.
#[derive(Debug, clap::Args)]
pub struct LoadConnArgs {
    /// Which broker, how.
    #[command(flatten)]
    pub target: BrokerArgs,
    /// Sessions to open.
    #[arg(short = 'c', long, default_value_t = 100)]
    pub clients: usize,
    /// New connections per second.
    #[arg(long, default_value_t = 500.0)]
    pub ramp: f64,
    /// Hold the sessions this long once all are up.
    #[arg(long, value_parser = parse_dur, default_value = "5s")]
    pub hold: Dur,
    /// Give up on one connection attempt after this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// Local addresses to connect from, round-robin, e.g. 127.0.0.2,127.0.0.3: each
    /// gives another range of ephemeral ports towards the broker (about 28k on Linux).
    #[arg(long, value_name = "IP,...", value_delimiter = ',')]
    pub source_ip: Vec<IpAddr>,
    /// Open the i-th of N disjoint slices of the clients, e.g. 0/4 (`twin report merge`
    /// adds the shard reports).
    #[arg(long, value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// MQTT keep-alive; each session pings every half of it.
    #[arg(long, value_parser = parse_dur, default_value = "60s")]
    pub keep_alive: Dur,
    /// Write the JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Exit 3 when any of these conditions holds (an SLO gate), e.g.
    /// 'p99>200ms,connect_fail>0,dropped>0'. Figures: p50, p90, p99, p999, max
    /// (CONNECT to CONNACK; us, ms or s), connect_fail, dropped (sessions lost during
    /// the hold); a count, or with % a share of the sessions. Each is named in the
    /// summary and in the report's fail_on.
    #[arg(long, value_name = "CONDITIONS")]
    pub fail_on: Option<String>,
}

/// `twin load pub`.
#[derive(Debug, clap::Args)]
pub struct LoadPubArgs {
    /// Which broker, how.
    #[command(flatten)]
    pub target: BrokerArgs,
    /// MQTT sessions (over all shards).
    #[arg(short = 'c', long, default_value_t = 10)]
    pub clients: usize,
    /// Gateway mode: devices each session publishes for, each with its own topic and
    /// sequence numbers.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub devices_per_session: usize,
    /// Time between two messages of one device, e.g. "100ms".
    #[arg(short = 'I', long, value_parser = parse_dur, default_value = "100ms", conflicts_with = "rate")]
    pub interval: Dur,
    /// Total messages per second across all devices of all shards (sets the interval).
    #[arg(long)]
    pub rate: Option<f64>,
    /// QoS 0, 1 or 2.
    #[arg(short = 'q', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// Publish with the retain flag.
    #[arg(long)]
    pub retain: bool,
    /// Publish this JSON object (or @FILE's) instead of padded binary payloads: %i, %c
    /// and %s are filled in per device, and the accounting travels as its first member
    /// "twl", so the payload stays JSON for rule engines and consumers.
    #[arg(long, value_name = "JSON|@FILE")]
    pub payload: Option<String>,
    /// Payload size in bytes (at least 32, the header).
    #[arg(short = 's', long, default_value_t = 64)]
    pub size: usize,
    /// Topic: %i device index, %c client id, %s shard index. Keep %s in it when
    /// sharding, so each shard's subscriber gets only its own shard's messages.
    #[arg(short = 't', long, default_value = "twin-load/%s/%i")]
    pub topic: String,
    /// How long each session publishes once connected.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub duration: Dur,
    /// Messages per device (the smaller of this and --duration wins).
    #[arg(long)]
    pub count: Option<u64>,
    /// Local addresses to publish from, round-robin over the sessions, e.g.
    /// 127.0.0.2,127.0.0.3 (each gives another range of ephemeral ports).
    #[arg(long, value_delimiter = ',', value_name = "IP,...")]
    pub source_ip: Vec<IpAddr>,
    /// Most QoS 1/2 messages a session has awaiting acknowledgement; a full window
    /// holds its publishes back (the schedule lag shows it). Keep it within the
    /// broker's receive quota (Mosquitto: max_inflight_messages, 20 by default): past
    /// it a broker may acknowledge a message and drop it. Over MQTT 5 the broker's
    /// Receive Maximum caps it (the report's "inflight" says the window used).
    #[arg(long, default_value_t = 20)]
    pub inflight: usize,
    /// Sessions of the in-process subscriber; more than one share the subscription
    /// ($share), so the broker's delivery is not held to one session's in-flight window.
    /// A broker that announces no shared subscriptions (MQTT 5 CONNACK) refuses the run
    /// before anything is published: use 1 there.
    #[arg(long, default_value_t = 1)]
    pub subscribers: usize,
    /// When the broker supports less than --qos (MQTT 5 CONNACK Maximum QoS, or a
    /// SUBACK granting less), publish at its limit and record the downgrade in the
    /// report ("qos_granted", "downgrade"); without it the run is refused, naming the
    /// broker's limit.
    #[arg(long)]
    pub downgrade_qos: bool,
    /// New sessions per second (default: as fast as the broker takes them). Also caps
    /// reconnection attempts per second over the run after a broker failure
    /// (default 1000/s), so sessions come back as a ramp, not a stampede.
    #[arg(long)]
    pub ramp: Option<f64>,
    /// Messages each device keeps while it cannot write them (no connection, a full
    /// in-flight window, the counting subscriber away). QoS 0 is never kept.
    #[arg(long, default_value_t = 1000)]
    pub buffer: usize,
    /// Bytes each device keeps while it cannot write them.
    #[arg(long, default_value_t = 1 << 20)]
    pub buffer_bytes: usize,
    /// When a device's buffer is full: block-device (its schedule waits; nothing is
    /// dropped, later messages leave late), drop-oldest or drop-newest (counted in the
    /// report's "dropped").
    #[arg(long, value_parser = BufferPolicy::parse, default_value = "block-device")]
    pub buffer_policy: BufferPolicy,
    /// Ask the broker to keep the sessions (clean session off; MQTT 5: expiry 300 s),
    /// so subscriptions and queued QoS 1/2 messages survive a lost connection.
    #[arg(long)]
    pub persistent: bool,
    /// Run the i-th of N disjoint slices of the clients, e.g. 0/4 (ids, devices and
    /// topics stay disjoint; `twin report merge` adds the shard reports).
    #[arg(long, value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// Give up on a session with no CONNACK after this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// A broker whose name does not resolve or whose port refuses connections is tried
    /// again for this long (a broker still starting), then the command fails; by default
    /// it fails at once, naming the cause.
    #[arg(long, value_parser = parse_dur_or_zero, default_value = "0s", value_name = "DURATION")]
    pub wait_for_broker: Dur,
    /// Wait this long for messages and acknowledgements in flight after the last publish.
    #[arg(long, value_parser = parse_dur, default_value = "5s")]
    pub drain: Dur,
    /// Write the JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Interval series files.
    #[command(flatten)]
    pub series: SeriesArgs,
    /// No interval lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Exit with code 3 if any message was lost (the same as --fail-on 'loss>0').
    #[arg(long)]
    pub fail_on_loss: bool,
    /// Exit 3 when any of these conditions holds (an SLO gate), e.g.
    /// 'p99>50ms,p999>200ms,loss>0,dup>0,connect_fail>0,rate<0.95'. Figures: p50, p90,
    /// p99, p999, max (end-to-end latency; us, ms or s), loss, dup, reorder (a count,
    /// or with % a share of what was sent), connect_fail (sessions that never
    /// connected), rate (what was sent over what was asked, 0 to 1 or a %). A figure
    /// the run did not measure holds. Each is named in the summary and in the report's
    /// fail_on.
    #[arg(long, value_name = "CONDITIONS")]
    pub fail_on: Option<String>,
}
