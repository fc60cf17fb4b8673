//! The run on its own: a progress bar (or load lines) while it goes, then the report.

use crate::args::run::RunArgs;
use crate::cmd::run::finish::finish;
use crate::cmd::run::scenario::{load_with_overrides, run_options};
use crate::common::report::is_stdout;
use crate::common::runtime::io_runtime;
use crate::common::signal::stop_on_signal;
use crate::output::{lines::scenario_lines, progress};
use sim_core::run::Progress;
use std::time::Duration;
use tokio::sync::watch;

/// Run the scenario to its end (or to Ctrl-C/SIGTERM), then write the report and pick
/// the exit code.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    let (scenario, cut) = load_with_overrides(args)?;
    let opts = run_options(args, &scenario)?;
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime);
    let (prog_tx, prog_rx) = watch::channel(Progress::default());
    let bar =
        (!args.quiet && !args.load_lines).then(|| progress::spawn(prog_rx.clone(), &scenario));
    let lines = (!args.quiet && args.load_lines && !is_stdout(args.json.as_deref()))
        .then(|| runtime.spawn(scenario_lines(prog_rx)));
    let mut report = runtime.block_on(sim_core::run::run(&scenario, opts, prog_tx, stop))?;
    if let Some(l) = lines {
        l.abort();
    }
    if args.load_lines {
        report.command = "load".into();
    }
    report.cut_by_duration = cut;
    if let Some(b) = bar {
        b.finish();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    finish(args, &report, false)
}
