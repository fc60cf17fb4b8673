//! `twin record` and `twin replay`: a broker's traffic to NDJSON and back, with a
//! progress line a second and a summary (or its JSON).

use crate::args::record::{RecordArgs, ReplayArgs, Target};
use crate::args::values::to_duration;
use crate::common::exit::{EXIT_FAILED, EXIT_INTERRUPTED, bad_input};
use crate::common::report::write_report;
use crate::common::runtime::io_runtime;
use crate::common::signal::stop_on_signal;
use sim_core::recording::record::{RecordCounters, RecordSpec};
use sim_core::recording::replay::{ReplayCounters, ReplaySpec};
use sim_core::recording::rewrite::Rewrite;
use sim_core::transport::endpoint::Endpoint;
use sim_core::transport::reach::ProbeLimits;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The broker as given (its password shown as `***`), how to reach it, and the limits.
fn target(t: &Target) -> anyhow::Result<(String, Endpoint, ProbeLimits)> {
    let ep = Endpoint::new(&t.broker, &t.security.security()?).map_err(bad_input)?;
    let limits = ProbeLimits {
        connect_timeout: to_duration(t.connect_timeout),
        wait_for_broker: to_duration(t.wait_for_broker),
    };
    Ok((scenarios::BrokerUrl::redact(&t.broker), ep, limits))
}

/// A line a second on stderr: `{what} {n} messages`.
fn progress(
    counter: impl Fn() -> u64 + Send + 'static,
    what: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut last = 0;
        loop {
            tick.tick().await;
            let n = counter();
            eprintln!("{what} {n} messages ({}/s)", n - last);
            last = n;
        }
    })
}

/// Run `twin record`.
pub fn record(args: &RecordArgs) -> anyhow::Result<u8> {
    let (url, endpoint, limits) = target(&args.target)?;
    let spec = RecordSpec {
        url: url.clone(),
        endpoint,
        filters: args.topics.clone(),
        qos: args.qos,
        duration: args.duration.map(to_duration),
        count: args.count,
        limits,
    };
    let to_stdout = args.out.as_os_str() == "-";
    let mut file: Box<dyn std::io::Write> = if to_stdout {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::File::create(&args.out)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", args.out.display()))?,
        )
    };
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime);
    let counters = Arc::new(RecordCounters::default());
    let report = runtime.block_on(async {
        let c = counters.clone();
        let line =
            (!args.quiet).then(|| progress(move || c.messages.load(Ordering::Relaxed), "recorded"));
        let r =
            sim_core::recording::record::record(&spec, &mut *file, stop.clone(), counters).await;
        if let Some(l) = line {
            l.abort();
        }
        r
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let summary = format!(
        "record: {} messages ({} payload bytes) in {:.1} s from {url} on {} to {}\n",
        report.messages,
        report.payload_bytes,
        report.seconds,
        args.topics.join(", "),
        args.out.display()
    );
    let summary = if to_stdout { String::new() } else { summary };
    write_report(args.json.as_deref(), &report, &summary)?;
    Ok(if report.interrupted {
        EXIT_INTERRUPTED
    } else {
        0
    })
}

/// Run `twin replay`.
pub fn replay(args: &ReplayArgs) -> anyhow::Result<u8> {
    let (url, endpoint, limits) = target(&args.target)?;
    let speed = match args.speed.as_str() {
        "max" => None,
        s => match s.parse::<f64>() {
            Ok(x) if x > 0.0 && x.is_finite() => Some(x),
            _ => {
                return Err(bad_input(format!(
                    "--speed {s}: expected a number above 0 or max"
                )));
            }
        },
    };
    let map = args
        .map
        .iter()
        .map(|m| Rewrite::parse(m).map_err(bad_input))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let spec = ReplaySpec {
        url: url.clone(),
        endpoint,
        speed,
        map,
        limits,
        drain: to_duration(args.drain),
    };
    let file = std::fs::File::open(&args.file)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", args.file.display())))?;
    let mut input = std::io::BufReader::new(file);
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime);
    let counters = Arc::new(ReplayCounters::default());
    let report = runtime.block_on(async {
        let c = counters.clone();
        let line =
            (!args.quiet).then(|| progress(move || c.sent.load(Ordering::Relaxed), "replayed"));
        let r =
            sim_core::recording::replay::replay(&spec, &mut input, stop.clone(), counters).await;
        if let Some(l) = line {
            l.abort();
        }
        r
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let summary = format!(
        "replay: {} messages ({} retained, {} topics rewritten) to {url} in {:.1} s ({:.1} s recorded, speed {}); {} of {} acknowledged\n",
        report.sent,
        report.retained,
        report.rewritten,
        report.seconds,
        report.recorded_seconds,
        args.speed,
        report.acked,
        report.acks_expected
    );
    write_report(args.json.as_deref(), &report, &summary)?;
    if report.interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(if report.acked < report.acks_expected {
        EXIT_FAILED
    } else {
        0
    })
}
