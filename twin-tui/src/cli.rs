//! Argument parsing and dispatch to the commands.

use anyhow::Context;
use clap::{Parser, Subcommand};
use scenarios::{Dur, Scenario, ScenarioError, Speed};
use sim_core::report::Report;
use sim_core::run::{RunError, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code: the run failed (broker unreachable, I/O error).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad input (scenario, flags).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code: a `--fail-on-*` condition held.
pub const EXIT_CONDITION: u8 = 3;
/// Exit code: interrupted (the report is still written).
pub const EXIT_INTERRUPTED: u8 = 130;

/// twinfleet: a digital-twin fleet simulator and MQTT load-testing harness.
///
/// Without --broker, an MQTT broker is started inside the process on a free loopback
/// port, so nothing else needs to be installed.
#[derive(Debug, Parser)]
#[command(name = "twin", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: simulate its fleet over MQTT, measure what comes back, report.
    ///
    /// Exit codes: 0 done, 1 run failed, 2 bad input, 3 a --fail-on condition held,
    /// 130 interrupted (the report is still written).
    Run(RunArgs),
    /// Check a scenario file and print the fleet it would build, without running it.
    Check(CheckArgs),
    /// Load-test a broker with exact loss and latency accounting: synthetic publishers
    /// (`pub`), subscribers (`sub`), held connections (`conn`), or a scenario's fleet
    /// of twins in real time (`twin load SCENARIO`).
    Load(Box<crate::load::LoadArgs>),
    /// Mirror physical devices (Tasmota, ESPHome, Homie, Sparkplug B, Home Assistant
    /// discovery, generic JSON firmware, JSON lines on a serial port) as twins: their
    /// readings, online state and desired/reported shadow, compared with a twin model.
    /// `--discover 30s` prints a starter config; `twin mirror set DEVICE key=value`
    /// changes a device's desired state.
    ///
    /// Exit codes: 0 done, 1 failed (broker unreachable), 2 bad config or flags, 130
    /// interrupted (the report is still written).
    Mirror(Box<crate::mirror::MirrorArgs>),
    /// Work with reports: merge the shard reports of a `twin load --shard` run.
    #[command(subcommand)]
    Report(crate::load::ReportCommand),
    /// Run a scenario and watch it live in the terminal (same flags as `run`).
    ///
    /// Keys: q quit (the run stops and the report is written), ? help, tab devices/alerts,
    /// / filter, s sort, r reverse, j/k move.
    Tui(RunArgs),
}

/// `twin run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario file (TOML), e.g. scenarios/examples/quickstart.toml.
    #[arg(required_unless_present = "attach")]
    pub scenario: Option<PathBuf>,
    /// `twin tui` only: watch a fleet that is already running on --broker (read-only),
    /// finding devices as their telemetry arrives.
    #[arg(long, requires = "broker")]
    pub attach: bool,
    /// With --attach: the topics to watch, as a filter over the wire contract's layout
    /// ({prefix}/{fleet}/{device}/telemetry and …/status).
    #[arg(long, default_value = "twin/#")]
    pub topic: String,
    /// Broker URL (mqtt://host:port, or mqtts://host:port for TLS). Overrides the
    /// scenario's [broker]; default: embedded.
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: Option<String>,
    /// TLS and credentials for every session of the run.
    #[command(flatten)]
    pub security: crate::load::SecurityArgs,
    /// Seed for every random draw; overrides the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulated duration, e.g. "30s", "2h"; overrides the scenario's.
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// Sim seconds per wall second, or "max"; overrides the scenario's.
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<Speed>,
    /// Write the JSON report (the contract in DESIGN.md) to this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// After the last step, wait this long for messages still in flight.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub drain: Dur,
    /// Wait this long for the broker and every session to connect.
    #[arg(long, value_parser = parse_dur, default_value = "30s")]
    pub connect_timeout: Dur,
    /// Exit with code 3 if any message was lost or dropped at source.
    #[arg(long)]
    pub fail_on_loss: bool,
    /// Exit with code 3 if, for any injected fault kind, recall falls below RECALL
    /// (default 0.95 when the flag is given without a value).
    #[arg(long, value_name = "RECALL", num_args = 0..=1, default_missing_value = "0.95")]
    pub fail_on_miss: Option<f64>,
    /// No progress bar and no summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
    /// Show the run in the terminal UI (as `twin tui`).
    #[arg(long)]
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

pub(crate) fn parse_dur(s: &str) -> Result<Dur, String> {
    let d = Dur::parse(s)?;
    if d.secs() <= 0.0 {
        return Err("expected a duration longer than zero".into());
    }
    Ok(d)
}

fn parse_speed(s: &str) -> Result<Speed, String> {
    if s == "max" {
        return Ok(Speed::Max);
    }
    match s.parse::<f64>() {
        Ok(f) if f > 0.0 && f.is_finite() => Ok(Speed::Factor(f)),
        _ => Err(format!(
            "\"{s}\" is not a speed; expected a positive number (sim seconds per wall second) or \"max\""
        )),
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Check(args) => match crate::check::check(&args.scenario, args.json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => report_error(&e),
        },
        Command::Tui(mut args) => {
            args.tui = true;
            match run(args) {
                Ok(code) => ExitCode::from(code),
                Err(e) => report_error(&e),
            }
        }
        Command::Load(cmd) => match crate::load::main(*cmd) {
            Ok(code) => ExitCode::from(code),
            Err(e) => report_error(&e),
        },
        Command::Mirror(args) => match crate::mirror::main(*args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => report_error(&e),
        },
        Command::Report(cmd) => match crate::load::report(cmd) {
            Ok(code) => ExitCode::from(code),
            Err(e) => report_error(&e),
        },
        Command::Run(args) => match run(args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => report_error(&e),
        },
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Print an error and pick its exit code: 2 for bad input, 1 for everything else.
fn report_error(e: &anyhow::Error) -> ExitCode {
    if let Some(se) = e.downcast_ref::<ScenarioError>() {
        eprintln!("error: {se}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(
        hw_bridge::BridgeError::Config(_)
        | hw_bridge::BridgeError::BadInput(_)
        | hw_bridge::BridgeError::Read { .. },
    ) = e.downcast_ref::<hw_bridge::BridgeError>()
    {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    if let Some(RunError::BadInput(_)) = e.downcast_ref::<RunError>() {
        eprintln!("error: {e:#}");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    eprintln!("error: {e:#}");
    ExitCode::from(EXIT_FAILED)
}

/// Load a scenario and apply the command-line overrides.
pub fn load_with_overrides(args: &RunArgs) -> anyhow::Result<Scenario> {
    let path = args
        .scenario
        .as_ref()
        .ok_or_else(|| RunError::BadInput("a scenario file is required".into()))?;
    let mut s = scenarios::load(path)?;
    if let Some(seed) = args.seed {
        s.seed = seed;
    }
    if let Some(d) = args.duration {
        s.duration = d.secs();
        s.events.retain(|e| e.at <= s.duration);
    }
    if let Some(sp) = args.speed {
        s.speed = sp;
    }
    if let Some(b) = &args.broker {
        scenarios::BrokerUrl::parse(b).map_err(|e| RunError::BadInput(e.to_string()))?;
    }
    Ok(s)
}

pub(crate) fn run(args: RunArgs) -> anyhow::Result<u8> {
    if args.attach {
        return attach(&args);
    }
    let scenario = load_with_overrides(&args)?;
    let opts = RunOptions {
        broker_url: args.broker.clone(),
        security: args.security.security()?,
        drain_timeout: std::time::Duration::from_secs_f64(args.drain.secs()),
        connect_timeout: std::time::Duration::from_secs_f64(args.connect_timeout.secs()),
        ..RunOptions::default()
    };
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (prog_tx, prog_rx) = tokio::sync::watch::channel(sim_core::run::Progress::default());
    if args.tui {
        let (snap_tx, snap_rx) =
            tokio::sync::watch::channel(Arc::new(sim_core::snapshot::FleetSnapshot {
                scenario: scenario.name.clone(),
                sim_duration: scenario.duration,
                devices_total: scenario.devices.len() as u64,
                ..Default::default()
            }));
        let (ctl_tx, ctl_rx) = tokio::sync::mpsc::channel(64);
        let pacing = Arc::new(sim_core::sim::clock::Pacing::default());
        let watch = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
        let opts = RunOptions {
            watch: Some(watch.clone()),
            pacing: Some(pacing.clone()),
            snapshots: Some(snap_tx),
            controls: Some(ctl_rx),
            // Quitting should not wait long for stragglers.
            drain_timeout: std::time::Duration::from_millis(500),
            ..opts
        };
        let s2 = scenario.clone();
        let stop2 = stop.clone();
        let handle =
            runtime.spawn(async move { sim_core::run::run(&s2, opts, prog_tx, stop2).await });
        let terminated = Arc::new(AtomicBool::new(false));
        {
            let terminated = terminated.clone();
            runtime.spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let (Ok(mut term), Ok(mut hup)) = (
                    signal(SignalKind::terminate()),
                    signal(SignalKind::hangup()),
                ) else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => {}
                    _ = hup.recv() => {}
                }
                terminated.store(true, Ordering::Relaxed);
            });
        }
        let steering = crate::tui::Steering {
            stop,
            controls: ctl_tx,
            pacing,
            watch,
            terminated: terminated.clone(),
        };
        let report = crate::tui::drive(&runtime, snap_rx, handle, steering)?;
        runtime.shutdown_timeout(std::time::Duration::from_millis(500));
        let code = finish(&args, &report, true)?;
        return Ok(if terminated.load(Ordering::Relaxed) {
            EXIT_INTERRUPTED
        } else {
            code
        });
    }
    let to_stdout = args.json.as_deref() == Some(std::path::Path::new("-"));
    let bar = (!args.quiet && !args.load_lines)
        .then(|| crate::progress::spawn(prog_rx.clone(), &scenario));
    let lines = (!args.quiet && args.load_lines && !to_stdout)
        .then(|| runtime.spawn(crate::load::scenario_lines(prog_rx)));
    let mut report: Report = runtime.block_on(async {
        stop_on_ctrl_c(stop.clone());
        sim_core::run::run(&scenario, opts, prog_tx, stop.clone()).await
    })?;
    if let Some(l) = lines {
        l.abort();
    }
    if args.load_lines {
        report.command = "load".into();
    }
    if let Some(b) = bar {
        b.finish();
    }
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    finish(&args, &report, false)
}

/// The runtime every command's network I/O runs on.
pub(crate) fn io_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("twin-io")
        .build()
        .context("starting the async runtime")
}

/// Set `stop` on Ctrl-C (call inside the runtime).
/// Also on SIGTERM (what Kubernetes and systemd send), so a stopped run still writes its
/// report.
pub(crate) fn stop_on_ctrl_c(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = tokio::signal::ctrl_c() => if r.is_err() { return; },
            _ = term => {}
        }
        stop.store(true, Ordering::Relaxed);
    });
}

/// Write a report as pretty JSON to a file, or to stdout for "-".
pub(crate) fn write_json(
    path: &std::path::Path,
    report: &impl serde::Serialize,
) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(report).context("encoding the report")?;
    if path.as_os_str() == "-" {
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), "{text}");
    } else {
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing the report to {}", path.display()))?;
    }
    Ok(())
}

/// `twin tui --attach`: watch a running fleet until `q`.
fn attach(args: &RunArgs) -> anyhow::Result<u8> {
    if !args.tui {
        return Err(
            RunError::BadInput("--attach works with `twin tui`, not `twin run`".into()).into(),
        );
    }
    let url = args.broker.clone().unwrap_or_default();
    scenarios::BrokerUrl::parse(&url).map_err(|e| RunError::BadInput(e.to_string()))?;
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (snap_tx, snap_rx) =
        tokio::sync::watch::channel(Arc::new(sim_core::snapshot::FleetSnapshot {
            scenario: "attached".into(),
            broker: url.clone(),
            speed: "live".into(),
            ..Default::default()
        }));
    let handle = {
        let stop = stop.clone();
        let topic = args.topic.clone();
        runtime.spawn(async move {
            sim_core::attach::attach(&url, &topic, scenarios::Encoding::Json, snap_tx, stop).await
        })
    };
    // Nothing to steer in a fleet this process does not run: the channels lead nowhere.
    let (ctl_tx, _ctl_rx) = tokio::sync::mpsc::channel(1);
    let steering = crate::tui::Steering {
        stop,
        controls: ctl_tx,
        pacing: Arc::default(),
        watch: Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX)),
        terminated: Arc::new(AtomicBool::new(false)),
    };
    crate::tui::drive(&runtime, snap_rx, handle, steering)?;
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    Ok(0)
}

/// Write the report, print the summary, and pick the exit code. Quitting the terminal UI
/// is a normal end (0), not an interruption.
fn finish(args: &RunArgs, report: &Report, from_tui: bool) -> anyhow::Result<u8> {
    if let Some(path) = &args.json {
        write_json(path, report)?;
    }
    if !args.quiet && args.json.as_deref() != Some(std::path::Path::new("-")) {
        // A closed stdout (a hung-up terminal) must not turn a finished run into a panic.
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), "{}", report.summary_text());
    }
    if report.interrupted && !from_tui {
        return Ok(EXIT_INTERRUPTED);
    }
    if let (Some(min), Some(d)) = (args.fail_on_miss, &report.detection) {
        let missed: Vec<String> = d
            .per_kind
            .iter()
            .filter(|(_, k)| k.recall.is_some_and(|r| r < min))
            .map(|(name, k)| format!("{name} {:.2}", k.recall.unwrap_or(0.0)))
            .collect();
        if !missed.is_empty() {
            eprintln!(
                "--fail-on-miss {min}: recall below it for {}",
                missed.join(", ")
            );
            return Ok(EXIT_CONDITION);
        }
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
