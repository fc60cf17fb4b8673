//! What `load pub` and `load sub` share: a load that reports an interval a second, run
//! with its interval files, stopped by a signal, its report written.

use crate::args::load::SeriesArgs;
use crate::common::report::{is_stdout, write_report};
use crate::common::runtime::io_runtime;
use crate::common::signal::stop_on_signal;
use crate::output::series::{SeriesFiles, recorded};
use sim_core::load::Interval;
use sim_core::run::RunError;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;

/// How a recorded load should report.
pub struct Reporting<'a, R> {
    /// `--csv` and `--hdr-log`.
    pub series: &'a SeriesArgs,
    /// `--json`.
    pub json: Option<&'a Path>,
    /// `--quiet`: no interval lines.
    pub quiet: bool,
    /// The summary printed on stdout (unless the JSON report goes there).
    pub summary: fn(&R) -> String,
    /// An interval as a line on stderr (none with `quiet`).
    pub line: fn(&Interval) -> String,
    /// `--fail-on`: judges the report before it is written, its verdicts in it.
    pub judge: &'a dyn Fn(&mut R),
    /// The verdicts the judge wrote, for the summary.
    pub verdicts: fn(&R) -> &[sim_core::load::gate::Verdict],
}

/// Run `load` (given the stop flag and the interval channel) to its end or to a signal;
/// the report, and whether a signal stopped it.
pub fn run_recorded<R, F>(
    how: Reporting<'_, R>,
    load: impl FnOnce(Arc<AtomicBool>, UnboundedSender<Interval>) -> F,
) -> anyhow::Result<(R, bool)>
where
    R: serde::Serialize,
    F: Future<Output = Result<R, RunError>>,
{
    let files = SeriesFiles::create(&how.series.csv, &how.series.hdr_log)?;
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime);
    let quiet = how.quiet || is_stdout(how.json);
    let line = (!quiet).then_some(how.line);
    let mut report = runtime.block_on(recorded(files, line, |tx| load(stop.clone(), tx)))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    (how.judge)(&mut report);
    let summary = (how.summary)(&report) + &super::gate::lines((how.verdicts)(&report));
    write_report(how.json, &report, &summary)?;
    Ok((report, stop.load(Ordering::Relaxed)))
}
