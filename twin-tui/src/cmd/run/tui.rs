//! The run watched and steered in the terminal UI (`twin tui`, `twin run --tui`), and a
//! fleet another process runs, watched read-only (`twin tui --attach`).

use crate::args::run::RunArgs;
use crate::cmd::run::finish::finish;
use crate::cmd::run::scenario::{load_with_overrides, run_options};
use crate::common::exit::{EXIT_INTERRUPTED, bad_input};
use crate::common::runtime::io_runtime;
use crate::common::signal::stop_on_signal;
use crate::tui::driver::{Steering, drive};
use scenarios::Scenario;
use sim_core::run::{Progress, RunOptions};
use sim_core::snapshot::FleetSnapshot;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Run the scenario under the terminal UI until it ends or the user quits; then write
/// the report. A SIGINT, SIGTERM or SIGHUP quits as `q` does but exits 130.
pub fn run(args: &RunArgs) -> anyhow::Result<u8> {
    needs_a_terminal()?;
    let (scenario, cut) = load_with_overrides(args)?;
    let opts = run_options(args, &scenario)?;
    let runtime = io_runtime()?;
    let (snap_tx, snap_rx) = watch::channel(Arc::new(first_snapshot(&scenario)));
    let (ctl_tx, ctl_rx) = mpsc::channel(64);
    let steering = Steering::new(ctl_tx, stop_on_signal(&runtime));
    let opts = RunOptions {
        watch: Some(steering.watch.clone()),
        pacing: Some(steering.pacing.clone()),
        snapshots: Some(snap_tx),
        controls: Some(ctl_rx),
        // Quitting should not wait long for stragglers.
        drain_timeout: Duration::from_millis(500),
        ..opts
    };
    // The UI shows the snapshots; the progress channel only needs to stay open.
    let (prog_tx, _prog_rx) = watch::channel(Progress::default());
    let stop = steering.stop.clone();
    crate::common::logging::to_file();
    let handle =
        runtime.spawn(async move { sim_core::run::run(&scenario, opts, prog_tx, stop).await });
    let terminated = steering.terminated.clone();
    let mut report = drive(&runtime, snap_rx, handle, steering)?;
    report.cut_by_duration = cut;
    runtime.shutdown_timeout(Duration::from_millis(500));
    let code = finish(args, &report, true)?;
    Ok(if terminated.load(Ordering::Relaxed) {
        EXIT_INTERRUPTED
    } else {
        code
    })
}

/// The UI draws on stdout and reads keys from stdin: both must be a terminal, or it says
/// so (exit 2) before anything starts.
fn needs_a_terminal() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return Ok(());
    }
    Err(bad_input(
        "twin tui needs a terminal: its standard input and output must both be one (use `twin run` to run without the UI)",
    ))
}

/// What the UI shows before the run's first snapshot.
fn first_snapshot(scenario: &Scenario) -> FleetSnapshot {
    FleetSnapshot {
        scenario: scenario.name.clone(),
        sim_duration: scenario.duration,
        devices_total: scenario.devices.len() as u64,
        ..Default::default()
    }
}

/// Watch a running fleet on --broker until `q`.
pub fn attach(args: &RunArgs) -> anyhow::Result<u8> {
    if !args.tui {
        return Err(bad_input("--attach works with `twin tui`, not `twin run`"));
    }
    needs_a_terminal()?;
    let url = args.broker.clone().unwrap_or_default();
    scenarios::BrokerUrl::parse(&url).map_err(bad_input)?;
    let runtime = io_runtime()?;
    let (snap_tx, snap_rx) = watch::channel(Arc::new(FleetSnapshot {
        scenario: "attached".into(),
        broker: scenarios::BrokerUrl::redact(&url),
        speed: "live".into(),
        ..Default::default()
    }));
    // Nothing to steer in a fleet this process does not run: the channels lead nowhere.
    let (ctl_tx, _ctl_rx) = mpsc::channel(1);
    let mut steering = Steering::new(ctl_tx, stop_on_signal(&runtime));
    steering.read_only = true;
    let stop = steering.stop.clone();
    let topic = args.topic.clone();
    crate::common::logging::to_file();
    let handle = runtime.spawn(async move {
        sim_core::attach::attach(&url, &topic, scenarios::Encoding::Json, snap_tx, stop).await
    });
    let terminated = steering.terminated.clone();
    drive(&runtime, snap_rx, handle, steering)?;
    runtime.shutdown_timeout(Duration::from_millis(500));
    Ok(if terminated.load(Ordering::Relaxed) {
        EXIT_INTERRUPTED
    } else {
        0
    })
}
