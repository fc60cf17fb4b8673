//! The root of the command line: `twin` and its commands.

use crate::args::load::LoadArgs;
use crate::args::mirror::MirrorArgs;
use crate::args::report::ReportCommand;
use crate::args::run::{CheckArgs, RunArgs};
use clap::{Parser, Subcommand};

/// twinfleet: a digital-twin fleet simulator and MQTT load-testing harness.
///
/// Without --broker, an MQTT broker is started inside the process on a free loopback
/// port, so nothing else needs to be installed.
#[derive(Debug, Parser)]
#[command(name = "twin", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: simulate its fleet over MQTT, measure what comes back, report.
    ///
    /// Exit codes: 0 done, 1 run failed, 2 bad input, 3 a --fail-on condition held,
    /// 130 interrupted (the report is still written).
    Run(RunArgs),
    /// Check a scenario file and print the fleet it would build, without running it.
    Check(CheckArgs),
    /// Load-test a broker with exact loss and latency accounting: synthetic publishers
    /// (`pub`), subscribers (`sub`), held connections (`conn`), or a scenario's fleet
    /// of twins in real time (`twin load SCENARIO`).
    Load(Box<LoadArgs>),
    /// Mirror physical devices (Tasmota, ESPHome, Homie, Sparkplug B, Home Assistant
    /// discovery, generic JSON firmware, JSON lines on a serial port) as twins: their
    /// readings, online state and desired/reported shadow, compared with a twin model.
    /// `--discover 30s` prints a starter config; `twin mirror set DEVICE key=value`
    /// changes a device's desired state.
    ///
    /// Exit codes: 0 done, 1 failed (broker unreachable), 2 bad config or flags, 130
    /// interrupted (the report is still written).
    Mirror(Box<MirrorArgs>),
    /// Work with reports: merge the shard reports of a `twin load --shard` run.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Run a scenario and watch it live in the terminal (same flags as `run`).
    ///
    /// Keys: q quit (the run stops and the report is written), ? help, tab devices/alerts,
    /// / filter, s sort, r reverse, j/k move.
    Tui(RunArgs),
}
