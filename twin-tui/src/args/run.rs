//! `twin run`, `twin tui` and `twin load SCENARIO` (the flags they share, and each
//! one's own), and `twin check`.

use crate::args::broker::SecurityArgs;
use crate::args::values::{parse_dur, parse_dur_or_zero, parse_speed};
use scenarios::{Dur, Speed};
use sim_core::load::Shard;
use std::path::PathBuf;

/// `twin run`: a scenario, and how to show it.
#[derive(Debug, clap::Args)]
pub struct RunCmd {
    /// Scenario file (TOML), e.g. scenarios/examples/quickstart.toml.
    pub scenario: PathBuf,
    /// Show the run in the terminal UI (as `twin tui`).
    #[arg(long)]
    pub tui: bool,
    /// The flags every scenario run takes.
    #[command(flatten)]
    pub run: RunArgs,
}

impl RunCmd {
    /// The run these flags describe.
    pub fn into_args(self) -> RunArgs {
        RunArgs {
            scenario: Some(self.scenario),
            tui: self.tui,
            ..self.run
        }
    }
}

/// `twin tui`: a scenario run in the terminal UI, or a running fleet watched.
#[derive(Debug, clap::Args)]
pub struct TuiCmd {
    /// Scenario file (TOML), e.g. scenarios/examples/quickstart.toml.
    #[arg(required_unless_present = "attach")]
    pub scenario: Option<PathBuf>,
    /// Watch a fleet that is already running on --broker (read-only), finding devices
    /// as their telemetry arrives.
    #[arg(long, requires = "broker")]
    pub attach: bool,
    /// With --attach: the topics to watch, as a filter over the wire contract's layout
    /// ({prefix}/{fleet}/{device}/telemetry and …/status).
    #[arg(long, default_value = "twin/#", requires = "attach")]
    pub topic: String,
    /// The flags every scenario run takes.
    #[command(flatten)]
    pub run: RunArgs,
}

impl TuiCmd {
    /// The run (or the attached view) these flags describe.
    pub fn into_args(self) -> RunArgs {
        RunArgs {
            scenario: self.scenario,
            attach: self.attach,
            topic: self.topic,
            tui: true,
            ..self.run
        }
    }
}

/// The flags `twin run`, `twin tui` and `twin load SCENARIO` share, and what each
/// command sets itself (skipped by the parser).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The scenario file (set by the command).
    #[arg(skip)]
    pub scenario: Option<PathBuf>,
    /// `twin tui --attach` (set by the command).
    #[arg(skip)]
    pub attach: bool,
    /// `twin tui --topic` (set by the command).
    #[arg(skip)]
    pub topic: String,
    /// Broker URL (mqtt://host:port, or mqtts://host:port for TLS). Overrides the
    /// scenario's [broker]; default: embedded.
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: Option<String>,
    /// TLS and credentials for every session of the run.
    #[command(flatten)]
    pub security: SecurityArgs,
    /// Seed for every random draw; overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run the i-th of N shards of the fleet, e.g. 0/4 (N processes or pods run the
    /// whole fleet; `twin report merge` adds their --json reports into the one an
    /// unsharded run writes). Devices that share physics stay together: the devices of
    /// an environment that holds a heater, and the devices a thermostat or soil probe
    /// names; these linked sets go whole to the shards, largest first to the one with
    /// the fewest devices. A device reads the same values whichever shard runs it;
    /// events apply to the targets in this shard only.
    #[arg(long, value_name = "i/N", value_parser = Shard::parse, env = "TWIN_SHARD")]
    pub shard: Option<Shard>,
    /// Simulated duration, e.g. "30s", "2h"; overrides the scenario's.
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// Sim seconds per wall second, or "max"; overrides the scenario's.
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<Speed>,
    /// Write the JSON report (its schema: twin-tui/schemas/run.schema.json in the
    /// repository) to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// After the last step, wait this long for messages still in flight.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub drain: Dur,
    /// Wait this long for the broker and every session to connect.
    #[arg(long, value_parser = parse_dur, default_value = "30s")]
    pub connect_timeout: Dur,
    /// A broker whose name does not resolve or whose port refuses connections is tried
    /// again for this long (a broker still starting), then the command fails; by default
    /// it fails at once, naming the cause.
    #[arg(long, value_parser = parse_dur_or_zero, default_value = "0s", value_name = "DURATION")]
    pub wait_for_broker: Dur,
    /// Keep the retained status messages the run leaves on a real broker (each device's
    /// last state); by default they are cleared when the run ends, so the broker is left
    /// as the run found it.
    #[arg(long)]
    pub keep_retained: bool,
    /// Messages in flight at most (handed to the sessions, not yet seen by the run's
    /// ingest): the sim clock holds while the window is full, so nothing is dropped at
    /// source and the broker never queues more than this for the ingest. Keep it within
    /// the broker's queue per client (Mosquitto: max_queued_messages, 1000 by default).
    #[arg(long, value_name = "N", default_value_t = sim_core::flow::PER_INGEST_SESSION,
          value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "drop_when_behind")]
    pub window: u64,
    /// Never hold the sim clock: when the pipeline falls behind, messages are dropped at
    /// source (and counted), as devices with full buffers would drop them.
    #[arg(long)]
    pub drop_when_behind: bool,
    /// Exit with code 3 if any message was lost or dropped at source.
    #[arg(long)]
    pub fail_on_loss: bool,
    /// Exit with code 3 if, for any injected fault kind, recall falls below RECALL
    /// (default 0.95 when the flag is given without a value).
    #[arg(long, value_name = "RECALL", num_args = 0..=1, default_missing_value = "0.95")]
    pub fail_on_miss: Option<f64>,
    /// No progress bar and no summary on stdout.
    #[arg(long)]
    pub quiet: bool,
    /// Shown in the terminal UI (`twin tui`, `twin run --tui`; set by the command).
    #[arg(skip)]
    pub tui: bool,
    /// `twin load SCENARIO`: load-test lines each second instead of the progress bar.
    #[arg(skip)]
    pub load_lines: bool,
}

/// `twin check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Print the expanded fleet as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
