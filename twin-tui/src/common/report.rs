//! Where a command's report goes: JSON to a file or to stdout, the summary on stdout.

use anyhow::Context;
use std::io::Write as _;
use std::path::Path;

/// Whether `--json` sends the report to stdout ("-"), which then carries nothing else.
pub fn is_stdout(json: Option<&Path>) -> bool {
    json == Some(Path::new("-"))
}

/// Write a report as pretty JSON to a file, or to stdout for "-".
pub fn write_json(path: &Path, report: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report).context("encoding the report")?;
    if is_stdout(Some(path)) {
        let _ = writeln!(std::io::stdout(), "{text}");
    } else {
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(())
}

/// Write the report where `--json` says, then the summary on stdout unless the report
/// went there.
pub fn write_report(
    json: Option<&Path>,
    report: &impl serde::Serialize,
    summary: &str,
) -> anyhow::Result<()> {
    if let Some(path) = json {
        write_json(path, report)?;
    }
    if !is_stdout(json) {
        // A closed stdout must not turn a finished load into a panic.
        let _ = write!(std::io::stdout(), "{summary}");
    }
    Ok(())
}
