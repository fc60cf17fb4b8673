//! `twin mirror CONFIG`: mirror the configured devices until --duration or a signal,
//! with a line an event, then the report.

use crate::args::mirror::MirrorArgs;
use crate::args::values::to_duration;
use crate::common::exit::{EXIT_INTERRUPTED, bad_input};
use crate::common::report::{is_stdout, write_json};
use crate::common::runtime::io_runtime;
use crate::common::signal::stop_on_signal;
use hw_bridge::MirrorConfig;
use hw_bridge::session::MirrorOptions;
use std::io::Write as _;
use std::time::Duration;
use tokio::sync::mpsc;

/// Mirror the devices of `args.config`; exit 130 when a signal ended it.
pub fn main(args: &MirrorArgs) -> anyhow::Result<u8> {
    let path = args
        .config
        .clone()
        .ok_or_else(|| bad_input("a mirror config file is required"))?;
    let cfg = MirrorConfig::load(&path)?;
    let opts = options(args, &cfg)?;
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime);
    let quiet = args.quiet || is_stdout(args.json.as_deref());
    if !quiet {
        println!(
            "mirroring {} {} of fleet {} on {}{}",
            cfg.devices.len(),
            if cfg.devices.len() == 1 {
                "device"
            } else {
                "devices"
            },
            cfg.fleet,
            opts.url,
            args.duration
                .map_or(" until Ctrl-C".to_string(), |d| format!(" for {d}"))
        );
    }
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let report = runtime.block_on(async {
        let printer = tokio::spawn(print_events(rx, quiet));
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

/// The session's settings from the flags and the config.
fn options(args: &MirrorArgs, cfg: &MirrorConfig) -> anyhow::Result<MirrorOptions> {
    let (url, endpoint) = args.broker.endpoint(cfg.broker.as_deref())?;
    Ok(MirrorOptions {
        url,
        endpoint,
        duration: args.duration.map(to_duration),
        connect_timeout: to_duration(args.broker.connect_timeout),
        wait_for_broker: to_duration(args.broker.wait_for_broker),
        client_id: format!("twin-mirror-{}-{}", cfg.fleet, std::process::id()),
        record: args.record.clone(),
    })
}

/// Print each event line with the seconds since the start, until the session ends
/// (unless `quiet`: then the lines are only drained).
async fn print_events(mut rx: mpsc::UnboundedReceiver<String>, quiet: bool) {
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
}
