//! The end of a run: the report written, the summary printed, the exit code.

use crate::args::run::RunArgs;
use crate::common::exit::{EXIT_CONDITION, EXIT_INTERRUPTED};
use crate::common::report::{is_stdout, write_json};
use sim_core::report::Report;
use std::io::Write as _;

/// Write the report, print the summary, and pick the exit code. Quitting the terminal UI
/// is a normal end (0), not an interruption.
pub fn finish(args: &RunArgs, report: &Report, from_tui: bool) -> anyhow::Result<u8> {
    if let Some(path) = &args.json {
        write_json(path, report)?;
    }
    if !args.quiet && !is_stdout(args.json.as_deref()) {
        // A closed stdout (a hung-up terminal) must not turn a finished run into a panic.
        let _ = write!(std::io::stdout(), "{}", report.summary_text());
    }
    if report.interrupted && !from_tui {
        return Ok(EXIT_INTERRUPTED);
    }
    if let Some(min) = args.fail_on_miss
        && let Some(missed) = missed_recall(report, min)
    {
        eprintln!("--fail-on-miss {min}: recall below it for {missed}");
        return Ok(EXIT_CONDITION);
    }
    if args.fail_on_loss && (report.messages.lost > 0 || report.messages.dropped_at_source > 0) {
        eprintln!(
            "--fail-on-loss: {} lost, {} dropped at source",
            report.messages.lost, report.messages.dropped_at_source
        );
        return Ok(EXIT_CONDITION);
    }
    Ok(0)
}

/// The fault kinds whose recall fell below `min`, as "kind 0.80, kind 0.50"; `None`
/// when there are none (or the run graded no detection).
fn missed_recall(report: &Report, min: f64) -> Option<String> {
    let missed: Vec<String> = report
        .detection
        .as_ref()?
        .per_kind
        .iter()
        .filter(|(_, k)| k.recall.is_some_and(|r| r < min))
        .map(|(name, k)| format!("{name} {:.2}", k.recall.unwrap_or(0.0)))
        .collect();
    (!missed.is_empty()).then(|| missed.join(", "))
}
