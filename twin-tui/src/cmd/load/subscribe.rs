//! `twin load sub`: subscribers on a topic filter, counting what arrives.

use crate::args::load::LoadSubArgs;
use crate::args::values::to_duration;
use crate::common::exit::{EXIT_FAILED, EXIT_INTERRUPTED, bad_input};
use crate::common::report::{is_stdout, write_report};
use crate::common::runtime::io_runtime;
use crate::common::signal::{Signals, stop_on_signal};
use crate::output::series::{SeriesFiles, recorded};
use crate::output::summary::sub_summary;
use sim_core::load::SubSpec;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Run `twin load sub`: listen, write the series and the report, then the exit code.
pub fn main(args: &LoadSubArgs) -> anyhow::Result<u8> {
    let spec = spec(args)?;
    let files = SeriesFiles::create(&args.series.csv, &args.series.hdr_log)?;
    let to_stdout = is_stdout(args.json.as_deref());
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime, Signals::Shell);
    let report = runtime.block_on(recorded(files, args.quiet || to_stdout, |tx| {
        sim_core::load::subscribe(&spec, stop.clone(), Some(tx))
    }))?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    write_report(args.json.as_deref(), &report, &sub_summary(&report))?;
    if stop.load(Ordering::Relaxed) {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(if report.subscribed < report.clients {
        EXIT_FAILED
    } else {
        0
    })
}

/// The subscribers the flags describe, checked.
fn spec(args: &LoadSubArgs) -> anyhow::Result<SubSpec> {
    if args.clients == 0 {
        return Err(bad_input("--clients must be at least 1"));
    }
    Ok(SubSpec {
        clients: args.clients,
        filter: args.topic.clone(),
        qos: args.qos,
        duration: to_duration(args.duration),
        count: args.count,
        broker: args.target.checked_url()?,
        connect_timeout: to_duration(args.connect_timeout),
        shard: args.shard.unwrap_or_default(),
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
    })
}
