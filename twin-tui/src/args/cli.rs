//! The root of the command line: `twin` and its commands.

use crate::args::load::LoadArgs;
use crate::args::mirror::MirrorArgs;
use crate::args::report::ReportCommand;
use crate::args::run::{CheckArgs, RunCmd, TuiCmd};
use clap::{CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

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

impl Cli {
    /// The process's arguments, parsed; `twin tui --help` lists every key of the UI
    /// (from the table its help overlay shows, so the two cannot differ).
    pub fn from_env() -> Cli {
        let cmd = Cli::command().mut_subcommand("tui", |t| t.after_help(keys_help()));
        Cli::from_arg_matches(&cmd.get_matches()).unwrap_or_else(|e| e.exit())
    }
}

/// "Keys:" and a line a key of the terminal UI.
fn keys_help() -> String {
    let mut out = String::from("Keys:\n");
    for (key, what) in crate::tui::view::KEYS {
        out += &format!("  {key:<10} {what}\n");
    }
    out
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: simulate its fleet over MQTT, measure what comes back, report.
    ///
    /// Exit codes: 0 done, 1 run failed, 2 bad input, 3 a --fail-on condition held,
    /// 130 interrupted (the report is still written).
    Run(RunCmd),
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
    /// Record a broker's traffic to NDJSON, one message a line: receive time, topic,
    /// QoS, retain and payload (UTF-8 as it is, anything else base64), flushed every
    /// second, until --duration, --count or Ctrl-C.
    ///
    /// Exit codes: 0 done, 1 failed (broker unreachable, the file not writable), 2 bad
    /// flags, 130 interrupted (what was recorded is kept).
    Record(Box<crate::args::record::RecordArgs>),
    /// Publish a recording again on its original timing, at any speed (or as fast as
    /// the broker takes it), retained messages retained, topics rewritten by --map.
    ///
    /// Exit codes: 0 done, 1 failed (broker unreachable, a message unacknowledged), 2
    /// bad flags or a bad recording, 130 interrupted.
    Replay(Box<crate::args::record::ReplayArgs>),
    /// Work with reports: merge the shard reports of a `twin load --shard` run.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Run a scenario and watch it live in the terminal (the flags of `run`), or watch a
    /// fleet already running on a broker (--attach).
    ///
    /// Exit codes: 0 quit with q (or the run ended), 1 run failed, 2 bad input or no
    /// terminal, 130 interrupted by SIGINT, SIGTERM or SIGHUP (the report is still
    /// written). The keys are listed below and in the UI's help (?).
    Tui(TuiCmd),
}
