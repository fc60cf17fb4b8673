//! `twin record` and `twin replay`.

use crate::args::broker::SecurityArgs;
use crate::args::values::{parse_dur, parse_dur_or_zero};
use scenarios::Dur;
use std::path::PathBuf;

/// Where to record from or replay to.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// Broker URL (mqtt://host:port or mqtts://host:port, credentials as
    /// mqtt://user:password@host:port).
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: String,
    /// Give up when the broker gives no answer for this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// A broker whose name does not resolve or whose port refuses connections is tried
    /// again for this long, then the command fails; by default it fails at once,
    /// naming the cause.
    #[arg(long, value_parser = parse_dur_or_zero, default_value = "0s", value_name = "DURATION")]
    pub wait_for_broker: Dur,
    /// TLS and credentials.
    #[command(flatten)]
    pub security: SecurityArgs,
}

/// `twin record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// The broker.
    #[command(flatten)]
    pub target: Target,
    /// Topic filters to record (repeat the flag for several), e.g. -t 'tele/#' -t
    /// 'homeassistant/#'.
    #[arg(short = 't', long = "topic", required = true, value_name = "FILTER")]
    pub topics: Vec<String>,
    /// The subscription's QoS.
    #[arg(short = 'q', long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub qos: u8,
    /// The NDJSON file to write, one message a line ("-" for stdout).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub out: PathBuf,
    /// Stop after this long.
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Write the JSON summary to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `twin replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recording (`twin record`'s NDJSON).
    pub file: PathBuf,
    /// The broker.
    #[command(flatten)]
    pub target: Target,
    /// Recorded seconds per wall second (10: ten times as fast), or `max`: as fast as
    /// the broker takes them.
    #[arg(long, default_value = "1")]
    pub speed: String,
    /// Rewrite topics, FROM=TO with {name} for one level and # (last) for the rest,
    /// e.g. 'tele/{t}/#=lab/{t}/#'; repeat for several (the first that matches applies).
    #[arg(long, value_name = "FROM=TO")]
    pub map: Vec<String>,
    /// Wait this long for the broker's acknowledgements after the last message.
    #[arg(long, value_parser = parse_dur, default_value = "5s")]
    pub drain: Dur,
    /// Write the JSON summary to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}
