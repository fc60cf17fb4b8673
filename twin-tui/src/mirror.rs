//! `twin mirror`: mirror physical devices as twins, write a starter config from what a
//! broker carries (`--discover`), and set a device's desired state (`twin mirror set`).

use crate::cli::{
    EXIT_FAILED, EXIT_INTERRUPTED, io_runtime, parse_dur, stop_on_ctrl_c, write_json,
};
use crate::load::SecurityArgs;
use hw_bridge::set::SetOutcome;
use hw_bridge::{BridgeError, MirrorConfig};
use scenarios::Dur;
use sim_core::transport::endpoint::Endpoint;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

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
    /// Write the JSON report (DESIGN.md's contract, one per_device entry per device) to
    /// this file ("-" for stdout).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// No event lines and no summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
    /// Which broker, how.
    #[command(flatten)]
    pub broker: MirrorBroker,
}

/// The broker the devices publish to.
#[derive(Debug, clap::Args)]
pub struct MirrorBroker {
    /// Broker URL (mqtt://host:port or mqtts://host:port); overrides the config's
    /// [mirror] broker. There is no embedded default: the mirror must meet the devices
    /// on the broker they use.
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: Option<String>,
    /// Give up when the broker cannot be reached for this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// TLS and credentials.
    #[command(flatten)]
    pub security: SecurityArgs,
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

fn bad(msg: impl Into<String>) -> anyhow::Error {
    BridgeError::BadInput(msg.into()).into()
}

fn endpoint(b: &MirrorBroker, from_config: Option<&str>) -> anyhow::Result<(String, Endpoint)> {
    let url = b.broker.clone().or_else(|| from_config.map(str::to_string)).ok_or_else(|| {
        bad("no broker: give --broker mqtt://host:port (the broker your devices publish to) or set [mirror] broker in the config")
    })?;
    let sec = b.security.security()?;
    let ep = Endpoint::new(&url, &sec).map_err(bad)?;
    Ok((url, ep))
}

/// Run `twin mirror`.
pub fn main(args: MirrorArgs) -> anyhow::Result<u8> {
    match args.command {
        Some(MirrorCommand::Set(s)) => return set(s),
        None if args.discover.is_some() => return discover(&args),
        None => {}
    }
    let path = args
        .config
        .clone()
        .ok_or_else(|| bad("a mirror config file is required"))?;
    let cfg = MirrorConfig::load(&path)?;
    let (url, ep) = endpoint(&args.broker, cfg.broker.as_deref())?;
    let runtime = io_runtime()?;
    let stop = Arc::new(AtomicBool::new(false));
    let to_stdout = args.json.as_deref() == Some(std::path::Path::new("-"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let opts = hw_bridge::session::MirrorOptions {
        url,
        endpoint: ep,
        duration: args.duration.map(|d| Duration::from_secs_f64(d.secs())),
        connect_timeout: Duration::from_secs_f64(args.broker.connect_timeout.secs()),
        client_id: format!("twin-mirror-{}-{}", cfg.fleet, std::process::id()),
    };
    let quiet = args.quiet || to_stdout;
    if !quiet {
        println!(
            "mirroring {} device(s) of fleet {} on {}{}",
            cfg.devices.len(),
            cfg.fleet,
            opts.url,
            args.duration
                .map_or(" until Ctrl-C".to_string(), |d| format!(" for {d}"))
        );
    }
    let report = runtime.block_on(async {
        stop_on_ctrl_c(stop.clone());
        let printer = tokio::spawn(async move {
            let start = std::time::Instant::now();
            while let Some(line) = rx.recv().await {
                if !quiet {
                    let _ = writeln!(
                        std::io::stdout(),
                        "{:>7.1}s  {line}",
                        start.elapsed().as_secs_f64()
                    );
                }
            }
        });
        let r = hw_bridge::session::run(&cfg, opts, stop.clone(), Some(tx)).await;
        let _ = printer.await;
        r
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    if let Some(p) = &args.json {
        write_json(p, &report)?;
    }
    if !quiet {
        let _ = write!(std::io::stdout(), "{}", report.summary_text());
    }
    Ok(if report.interrupted {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

fn discover(args: &MirrorArgs) -> anyhow::Result<u8> {
    let (url, ep) = endpoint(&args.broker, None)?;
    let d = args.discover.map_or(30.0, Dur::secs);
    let runtime = io_runtime()?;
    if !args.quiet {
        eprintln!("listening to everything on {url} for {} ...", Dur(d));
    }
    let seen = runtime.block_on(hw_bridge::discover::listen(
        &ep,
        &url,
        Duration::from_secs_f64(d),
    ))?;
    let text = hw_bridge::discover::starter_config(&seen, &args.fleet, Some(&url));
    let _ = write!(std::io::stdout(), "{text}");
    Ok(0)
}

fn set(args: SetArgs) -> anyhow::Result<u8> {
    let desired = hw_bridge::value::parse_assignments(&args.pairs)?;
    let cfg = match &args.config {
        Some(p) => Some(MirrorConfig::load(p)?),
        None => None,
    };
    let fleet = match (&args.fleet, &cfg) {
        (Some(f), _) => f.clone(),
        (None, Some(c)) => c.fleet.clone(),
        (None, None) => return Err(bad("which fleet? give --config FILE or --fleet NAME")),
    };
    if let Some(c) = &cfg
        && c.device(&args.device).is_none()
    {
        return Err(bad(format!(
            "no device \"{}\" in {}",
            args.device,
            args.config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        )));
    }
    let (url, ep) = endpoint(&args.broker, cfg.as_ref().and_then(|c| c.broker.as_deref()))?;
    let runtime = io_runtime()?;
    let timeout = Duration::from_secs_f64(args.timeout.secs());
    let outcome = runtime.block_on(hw_bridge::set::set(
        &ep,
        &url,
        &fleet,
        &args.device,
        &desired,
        args.version,
        timeout,
    ))?;
    let (code, text, json) = match &outcome {
        SetOutcome::Converged {
            version,
            reported,
            elapsed,
        } => (
            0,
            format!(
                "{}: reported {} (shadow version {version}) after {:.0} ms",
                args.device,
                serde_json::Value::Object(reported.clone()),
                elapsed.as_secs_f64() * 1000.0
            ),
            serde_json::json!({"device": args.device, "outcome": "converged", "version": version, "reported": reported, "elapsed_ms": elapsed.as_secs_f64() * 1000.0}),
        ),
        SetOutcome::Unconfirmed { version, delta } => (
            EXIT_FAILED,
            format!(
                "{}: accepted (version {version}) but not reported within {}: still wanted {}",
                args.device,
                args.timeout,
                serde_json::Value::Object(delta.clone())
            ),
            serde_json::json!({"device": args.device, "outcome": "unconfirmed", "version": version, "delta": delta}),
        ),
        SetOutcome::Rejected { code, message } => (
            crate::cli::EXIT_BAD_INPUT,
            format!("{}: refused ({code}): {message}", args.device),
            serde_json::json!({"device": args.device, "outcome": "rejected", "code": code, "message": message}),
        ),
    };
    if args.json {
        println!("{json}");
    } else if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    Ok(code)
}
