//! `twin load sub`: subscribers on a topic filter, counting what arrives.

use crate::args::load::LoadSubArgs;
use crate::args::values::to_duration;
use crate::cmd::load::gate;
use crate::cmd::load::recorded::{Reporting, run_recorded};
use crate::common::exit::{EXIT_CONDITION, EXIT_FAILED, EXIT_INTERRUPTED, bad_input};
use crate::output::lines::sub_interval_line;
use crate::output::summary::sub_summary;
use sim_core::load::SubSpec;

/// Run `twin load sub`: listen, write the series and the report, then the exit code.
pub fn main(args: &LoadSubArgs) -> anyhow::Result<u8> {
    let spec = spec(args)?;
    let conditions = gate::conditions(args.fail_on.as_deref(), gate::SUB)?;
    let judge = |r: &mut sim_core::load::SubReport| gate::judge_sub(&conditions, r);
    let how = Reporting {
        series: &args.series,
        json: args.json.as_deref(),
        quiet: args.quiet,
        summary: sub_summary,
        line: sub_interval_line,
        judge: &judge,
        verdicts: |r| &r.fail_on,
    };
    let (report, interrupted) = run_recorded(how, |stop, tx| {
        sim_core::load::subscribe(&spec, stop, Some(tx))
    })?;
    if interrupted {
        return Ok(EXIT_INTERRUPTED);
    }
    if let Some(why) = &report.stopped_by {
        eprintln!("error: broker {}: {why}", report.broker.url);
        return Ok(EXIT_FAILED);
    }
    Ok(if report.subscribed < report.clients {
        EXIT_FAILED
    } else if gate::failed(&report.fail_on) {
        EXIT_CONDITION
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
        wait_for_broker: to_duration(args.wait_for_broker),
        shard: args.shard.unwrap_or_default(),
        security: args.target.security.security()?,
        protocol: args.target.mqtt_version,
    })
}
