//! `twin report merge`.

use clap::Subcommand;
use std::path::PathBuf;

/// `twin report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of the shards of one `twin run --shard i/N`, `twin load
    /// pub --shard i/N` or `twin load conn --shard i/N` run into the report one
    /// unsharded run would have written: counts add, latency histograms add (the
    /// percentiles are exact, not averaged). Run reports must be every shard of one
    /// scenario and seed, once each; their devices come in fleet order, alerts and
    /// faults are concatenated (sorted by time), detection is graded again over the
    /// merged ground truth and the fleet aggregates are computed again.
    Merge(MergeArgs),
}

/// `twin report merge`.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Shard reports (JSON files written with --json).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the merged JSON report to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}
