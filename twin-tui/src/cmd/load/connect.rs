//! `twin load conn`: open sessions at a ramp rate and hold them.

use crate::args::load::LoadConnArgs;
use crate::args::values::to_duration;
use crate::common::exit::{EXIT_FAILED, EXIT_INTERRUPTED, bad_input};
use crate::common::report::{is_stdout, write_report};
use crate::common::runtime::io_runtime;
use crate::common::signal::stop_on_signal;
use crate::output::lines::conn_lines;
use crate::output::summary::conn_summary;
use sim_core::load::{ConnCounters, ConnReport, ConnSpec};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Run `twin load conn`: the sessions, a line a second, the report, then the exit code.
pub fn main(args: &LoadConnArgs) -> anyhow::Result<u8> {
    let spec = spec(args)?;
    let conditions = super::gate::conditions(args.fail_on.as_deref(), super::gate::CONN)?;
    let to_stdout = is_stdout(args.json.as_deref());
    let runtime = io_runtime()?;
    let stop = stop_on_signal(&runtime);
    let mut report = runtime.block_on(async {
        let counters = Arc::new(ConnCounters::default());
        let lines = (!args.quiet && !to_stdout).then(|| tokio::spawn(conn_lines(counters.clone())));
        let r = sim_core::load::connect_counted(&spec, stop.clone(), counters).await;
        if let Some(l) = lines {
            l.abort();
        }
        r
    })?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    super::gate::judge_conn(&conditions, &mut report);
    let summary = conn_summary(&report) + &super::gate::lines(&report.fail_on);
    write_report(args.json.as_deref(), &report, &summary)?;
    if stop.load(Ordering::Relaxed) {
        return Ok(EXIT_INTERRUPTED);
    }
    Ok(match exit_code(&report) {
        0 if super::gate::failed(&report.fail_on) => crate::common::exit::EXIT_CONDITION,
        code => code,
    })
}

/// The sessions the flags describe, checked.
fn spec(args: &LoadConnArgs) -> anyhow::Result<ConnSpec> {
    if args.clients == 0 || !(args.ramp > 0.0 && args.ramp.is_finite()) {
        return Err(bad_input("--clients and --ramp must be positive"));
    }
    let broker = args.target.checked_url()?;
    let keep_alive = to_duration(args.keep_alive);
    if keep_alive.as_secs() > u64::from(u16::MAX) {
        return Err(bad_input(format!(
            "--keep-alive {}: MQTT allows at most 65535 s",
            args.keep_alive
        )));
    }
    Ok(ConnSpec {
        clients: args.clients,
        ramp_per_s: args.ramp,
        hold: to_duration(args.hold),
        connect_timeout: to_duration(args.connect_timeout),
        broker,
        source_ips: args.source_ip.clone(),
        shard: args.shard.unwrap_or_default(),
        keep_alive,
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
    })
}

/// "2 of 5 sessions did not connect: 2 refused by the broker (not authorized, CONNACK 5)".
fn not_connected(report: &ConnReport) -> String {
    let sessions = if report.clients == 1 {
        "session"
    } else {
        "sessions"
    };
    let refused: Vec<String> = report
        .refused_codes
        .iter()
        .map(|(code, n)| {
            let reason = sim_core::load::error::connack_reason(*code);
            format!("{n} refused by the broker ({reason}, CONNACK {code})")
        })
        .collect();
    let causes: Vec<String> = report
        .first_failure
        .iter()
        .cloned()
        .chain(refused)
        .collect();
    let why = if causes.is_empty() {
        String::new()
    } else {
        format!(": {}", causes.join("; "))
    };
    format!(
        "{} of {} {sessions} did not connect{why}",
        report.failed, report.clients
    )
}

/// 1 when a session did not connect or dropped during the hold (said on stderr), else 0.
fn exit_code(report: &ConnReport) -> u8 {
    if report.failed > 0 {
        eprintln!("error: {}", not_connected(report));
        return EXIT_FAILED;
    }
    if report.held < report.connected {
        let n = report.connected - report.held;
        eprintln!(
            "{} dropped during the hold",
            crate::output::summary::count(n, "session", "sessions")
        );
        return EXIT_FAILED;
    }
    0
}
