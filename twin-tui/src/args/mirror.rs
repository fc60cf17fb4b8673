//! `twin mirror CONFIG`, `twin mirror --discover`, `twin mirror set`.

use crate::args::broker::MirrorBroker;
use crate::args::values::parse_dur;
use scenarios::Dur;
use std::path::PathBuf;

/// `twin mirror CONFIG`, `twin mirror --discover 30s`, `twin mirror set DEVICE key=value`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct MirrorArgs {
    /// `set`: change a mirrored device's desired state.
    #[command(subcommand)]
    pub command: Option<MirrorCommand>,
    /// Mirror config (TOML; see hw-bridge/README.md). Not needed with --discover.
    #[arg(required_unless_present = "discover")]
    pub config: Option<PathBuf>,
    /// Listen to everything on the broker for this long, then print a starter config
    /// for the devices recognised (Tasmota, ESPHome, Homie, Sparkplug B, Home Assistant
    /// discovery, generic JSON) on stdout and exit:
    /// `twin mirror --discover 30s --broker URL > mirror.toml`.
    #[arg(long, value_parser = parse_dur, value_name = "DURATION", conflicts_with = "config")]
    pub discover: Option<Dur>,
    /// With --discover: the fleet name to write into the config.
    #[arg(long, default_value = "home", requires = "discover")]
    pub fleet: String,
    /// Stop after this long and write the report; default: until Ctrl-C.
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// Write the JSON report (one per_device entry per device; its schema:
    /// twin-tui/schemas/mirror.schema.json in the repository) to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No event lines and no summary on stdout.
    #[arg(long)]
    pub quiet: bool,
    /// Also record every message the mirror sees to this NDJSON file, as `twin record`
    /// writes it (for `twin replay`).
    #[arg(long, value_name = "FILE", conflicts_with = "discover")]
    pub record: Option<PathBuf>,
    /// Which broker, how.
    #[command(flatten)]
    pub broker: MirrorBroker,
}

/// `twin mirror set`.
#[derive(Debug, clap::Subcommand)]
pub enum MirrorCommand {
    /// Set a mirrored device's desired state, e.g. `twin mirror set plug power=on`. A
    /// running `twin mirror` sends the device its native command; this waits until the
    /// device reports the new state (exit 0), or --timeout passes (exit 1). A refused
    /// update (no such device, a version conflict) exits 2.
    Set(SetArgs),
}

/// `twin mirror set DEVICE key=value...`.
#[derive(Debug, clap::Args)]
pub struct SetArgs {
    /// Device id, as in the mirror config.
    pub device: String,
    /// Desired state: key=value pairs (on/off/true/false, numbers, text).
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    /// The mirror config: its fleet and broker.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Fleet name, without --config.
    #[arg(long)]
    pub fleet: Option<String>,
    /// Refuse the update unless the shadow is at this version.
    #[arg(long)]
    pub version: Option<u64>,
    /// How long to wait for the device to report the new state.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub timeout: Dur,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
    /// Which broker, how.
    #[command(flatten)]
    pub broker: MirrorBroker,
}
