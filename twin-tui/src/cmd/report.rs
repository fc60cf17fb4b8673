//! `twin report merge`: the shard reports of one sharded load or run, merged into the
//! report one unsharded run would have written.

use crate::args::report::{MergeArgs, ReportCommand};
use crate::common::exit::bad_input;
use crate::common::report::write_report;
use crate::output::summary::{conn_summary, pub_summary};
use sim_core::load::{ConnReport, LoadReport};
use std::path::PathBuf;

/// A shard report as read: its file, its `command` field, its JSON.
type Shard = (PathBuf, String, serde_json::Value);

/// Run a `twin report` subcommand.
pub fn main(cmd: ReportCommand) -> anyhow::Result<u8> {
    let ReportCommand::Merge(args) = cmd;
    merge(&args)?;
    Ok(0)
}

/// Read the reports, check they come from one command, merge them, write the merged
/// report and print its summary.
fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let shards = args
        .reports
        .iter()
        .map(read)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (command, first) = one_command(&shards)?;
    let json = args.json.as_deref();
    match command.as_str() {
        "load pub" => {
            let merged = sim_core::load::merge(&parse::<LoadReport>(shards, "load pub")?)
                .map_err(bad_input)?;
            write_report(json, &merged, &pub_summary(&merged))
        }
        "load conn" => {
            let merged = sim_core::load::merge_conn(&parse::<ConnReport>(shards, "load conn")?)
                .map_err(bad_input)?;
            write_report(json, &merged, &conn_summary(&merged))
        }
        "run" => {
            let names: Vec<String> = shards
                .iter()
                .map(|(p, _, _)| p.display().to_string())
                .collect();
            let reports = parse::<sim_core::report::Report>(shards, "run")?;
            let named: Vec<_> = names.into_iter().zip(reports).collect();
            let merged = sim_core::merge::merge(&named).map_err(bad_input)?;
            write_report(json, &merged, &merged.summary_text())
        }
        other => Err(bad_input(format!(
            "{}: `command` is {other:?}; only `run`, `load pub` and `load conn` reports merge",
            first.display()
        ))),
    }
}

/// One shard report, read as JSON.
fn read(p: &PathBuf) -> anyhow::Result<Shard> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| bad_input(format!("cannot read report {}: {e}", p.display())))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| bad_input(format!("{}: not a JSON report: {e}", p.display())))?;
    let command = v
        .get("command")
        .and_then(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    Ok((p.clone(), command, v))
}

/// The command every report comes from, and the first report's file; an error when
/// there are none or they differ.
fn one_command(shards: &[Shard]) -> anyhow::Result<(String, PathBuf)> {
    let Some((first_path, command, _)) = shards.first() else {
        return Err(bad_input("no reports to merge"));
    };
    if let Some((p, other, _)) = shards.iter().find(|(_, c, _)| c != command) {
        return Err(bad_input(format!(
            "cannot merge a `{command}` report ({}) with a `{other}` report ({})",
            first_path.display(),
            p.display()
        )));
    }
    Ok((command.clone(), first_path.clone()))
}

/// The reports as `twin <what>` reports.
fn parse<T: serde::de::DeserializeOwned>(shards: Vec<Shard>, what: &str) -> anyhow::Result<Vec<T>> {
    shards
        .into_iter()
        .map(|(p, _, v)| {
            serde_json::from_value(v).map_err(|e| {
                bad_input(format!(
                    "{}: not a `twin {what}` JSON report: {e}",
                    p.display()
                ))
            })
        })
        .collect()
}
