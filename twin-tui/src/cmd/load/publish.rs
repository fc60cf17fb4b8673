//! `twin load pub`: publishers on an open-loop schedule, counted by an in-process
//! subscriber.

use crate::args::load::LoadPubArgs;
use crate::args::values::to_duration;
use crate::cmd::load::gate;
use crate::cmd::load::recorded::{Reporting, run_recorded};
use crate::common::exit::{EXIT_CONDITION, EXIT_FAILED, EXIT_INTERRUPTED, bad_input};
use crate::output::lines::interval_line;
use crate::output::summary::pub_summary;
use sim_core::load::LoadSpec;
use std::time::Duration;

/// Run `twin load pub`: the load, its interval series and report, then the exit code.
pub fn main(args: &LoadPubArgs) -> anyhow::Result<u8> {
    let spec = spec(args)?;
    let conditions = gate::conditions(args.fail_on.as_deref(), gate::PUB)?;
    let asked = asked(&spec);
    let judge = |r: &mut sim_core::load::LoadReport| gate::judge_pub(&conditions, r, asked);
    let how = Reporting {
        series: &args.series,
        json: args.json.as_deref(),
        quiet: args.quiet,
        summary: pub_summary,
        line: interval_line,
        judge: &judge,
        verdicts: |r| &r.fail_on,
    };
    let (report, interrupted) = run_recorded(how, |stop, tx| {
        sim_core::load::publish_counted(&spec, stop, Some(tx))
    })?;
    if interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    if let Some(why) = &report.stopped_by {
        eprintln!("error: broker {}: {why}", report.broker.url);
        return Ok(EXIT_FAILED);
    }
    if report.connect.failed > 0 {
        let n = report.connect.failed;
        if n == 1 {
            eprintln!("1 session never connected: its device published nothing");
        } else {
            eprintln!("{n} sessions never connected: their devices published nothing");
        }
        return Ok(EXIT_FAILED);
    }
    if args.fail_on_loss && report.messages.lost > 0 {
        return Ok(EXIT_CONDITION);
    }
    Ok(if gate::failed(&report.fail_on) {
        EXIT_CONDITION
    } else {
        0
    })
}

/// How many messages the schedule asks of this run's devices: `--count` each, or one
/// each interval of the duration.
fn asked(spec: &LoadSpec) -> f64 {
    let devices = spec.shard.range(spec.clients).len() * spec.devices_per_session;
    let each = match spec.count {
        Some(n) => n as f64,
        None => (spec.duration.as_secs_f64() / spec.interval.as_secs_f64())
            .floor()
            .max(1.0),
    };
    devices as f64 * each
}

/// The load the flags describe, checked.
fn spec(args: &LoadPubArgs) -> anyhow::Result<LoadSpec> {
    if args.clients == 0 || args.devices_per_session == 0 {
        return Err(bad_input(
            "--clients and --devices-per-session must be at least 1",
        ));
    }
    let broker = args.target.checked_url()?;
    if let Some(r) = args.ramp
        && !(r > 0.0 && r.is_finite())
    {
        return Err(bad_input(format!(
            "--ramp {r}: expected sessions per second > 0"
        )));
    }
    Ok(LoadSpec {
        clients: args.clients,
        devices_per_session: args.devices_per_session,
        interval: interval(args)?,
        qos: args.qos,
        retain: args.retain,
        size: args.size,
        topic: args.topic.clone(),
        duration: to_duration(args.duration),
        count: args.count,
        drain: to_duration(args.drain),
        broker,
        ramp_per_s: args.ramp,
        connect_timeout: to_duration(args.connect_timeout),
        wait_for_broker: to_duration(args.wait_for_broker),
        shard: args.shard.unwrap_or_default(),
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
        source_ips: args.source_ip.clone(),
        inflight: args.inflight,
        buffer: args.buffer.max(1),
        buffer_bytes: args.buffer_bytes.max(1),
        buffer_policy: args.buffer_policy,
        persistent: args.persistent,
        downgrade_qos: args.downgrade_qos,
        subscribers: args.subscribers,
        payload: args.payload.as_deref().map(payload_template).transpose()?,
    })
}

/// Time between two messages of one device: --interval, or what --rate asks of all
/// devices.
fn interval(args: &LoadPubArgs) -> anyhow::Result<Duration> {
    let devices = args.clients * args.devices_per_session;
    let every = match args.rate {
        Some(r) if r > 0.0 && r.is_finite() => Duration::from_secs_f64(devices as f64 / r),
        Some(r) => {
            return Err(bad_input(format!(
                "--rate {r}: expected messages per second > 0"
            )));
        }
        None => to_duration(args.interval),
    };
    // The schedule counts in microseconds: a shorter period would make every message
    // due at once, and the run would spend its time on a backlog it was never asked for.
    if every < Duration::from_micros(1) {
        return Err(bad_input(format!(
            "{}: one message every {:.3} ns per device, shorter than the schedule's 1 µs; \
             at most {} msg/s over {devices} devices (and one session sends far fewer: \
             the interval lines say when twin is the limit)",
            args.rate.map_or_else(
                || format!("--interval {}", args.interval),
                |r| format!("--rate {r}")
            ),
            every.as_secs_f64() * 1e9,
            devices as u64 * 1_000_000
        )));
    }
    Ok(every)
}

/// `--payload`: the text, or the file's after `@`; it must be a JSON object.
fn payload_template(arg: &str) -> anyhow::Result<String> {
    let text = match arg.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| bad_input(format!("--payload @{path}: {e}")))?,
        None => arg.to_string(),
    };
    // Placeholders may stand where JSON wants values; check with them filled in.
    let probe = text
        .replace("%i", "0")
        .replace("%c", "c")
        .replace("%s", "0");
    match serde_json::from_str::<serde_json::Value>(&probe) {
        Ok(serde_json::Value::Object(_)) => Ok(text.trim().to_string()),
        Ok(_) => Err(bad_input(
            "--payload: expected a JSON object, like {\"temperature\": 21.5}",
        )),
        Err(e) => Err(bad_input(format!("--payload is not JSON: {e}"))),
    }
}
