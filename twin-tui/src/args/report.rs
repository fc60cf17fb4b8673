//! `twin report merge`.

use clap::Subcommand;
use std::path::PathBuf;

/// `twin report ...`.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge the JSON reports of the shards of one `twin load pub --shard i/N` or `twin
    /// load conn --shard i/N` run into the report one unsharded run would have written:
    /// counts add, latency histograms add (the percentiles are exact, not averaged).
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
