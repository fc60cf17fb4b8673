//! `--fail-on` on `twin load pub`, `sub` and `conn`: the conditions checked before the
//! run, judged against its report (each verdict in the report's `fail_on` and a line of
//! the summary), and exit 3 when one holds.

use crate::common::exit::bad_input;
use sim_core::load::gate::{self, Condition, LATENCY, Verdict};
use sim_core::load::{ConnReport, LoadReport, SubReport};
use sim_core::measure::Latency;

/// The figures of `load pub`.
pub const PUB: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p999",
    "max",
    "loss",
    "dup",
    "reorder",
    "connect_fail",
    "rate",
];
/// The figures of `load sub`.
pub const SUB: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p999",
    "max",
    "loss",
    "dup",
    "reorder",
    "connect_fail",
];
/// The figures of `load conn`.
pub const CONN: &[&str] = &[
    "p50",
    "p90",
    "p99",
    "p999",
    "max",
    "connect_fail",
    "dropped",
];

/// `--fail-on`'s conditions, checked before anything starts (exit 2 on a bad one).
pub fn conditions(arg: Option<&str>, figures: &[&str]) -> anyhow::Result<Vec<Condition>> {
    match arg {
        None => Ok(Vec::new()),
        Some(text) => {
            gate::parse(text, figures).map_err(|why| bad_input(format!("--fail-on {why}")))
        }
    }
}

fn percentile(l: Option<&Latency>, f: &str) -> Option<f64> {
    let l = l?;
    Some(match f {
        "p50" => l.p50,
        "p90" => l.p90,
        "p99" => l.p99,
        "p999" => l.p999,
        _ => l.max,
    })
}

/// Judge a `load pub` report; `asked` is how many messages the schedule asked for.
pub fn judge_pub(c: &[Condition], r: &mut LoadReport, asked: f64) {
    let m = &r.messages;
    let figure = |f: &str| match f {
        f if LATENCY.contains(&f) => percentile(r.latency_ms.as_ref(), f),
        "loss" => Some(m.lost as f64),
        "dup" => Some(m.duplicates as f64),
        "reorder" => Some(m.out_of_order as f64),
        "connect_fail" => Some(r.connect.failed as f64),
        "rate" => (asked > 0.0).then(|| m.sent as f64 / asked),
        _ => None,
    };
    r.fail_on = gate::judge(c, figure, m.sent);
}

/// Judge a `load sub` report.
pub fn judge_sub(c: &[Condition], r: &mut SubReport) {
    let m = &r.messages;
    let figure = |f: &str| match f {
        f if LATENCY.contains(&f) => percentile(r.latency_ms.as_ref(), f),
        "loss" => Some(m.gaps as f64),
        "dup" => Some(m.duplicates as f64),
        "reorder" => Some(m.out_of_order as f64),
        "connect_fail" => Some(r.clients.saturating_sub(r.subscribed) as f64),
        _ => None,
    };
    r.fail_on = gate::judge(c, figure, m.distinct + m.gaps);
}

/// Judge a `load conn` report.
pub fn judge_conn(c: &[Condition], r: &mut ConnReport) {
    let figure = |f: &str| match f {
        f if LATENCY.contains(&f) => percentile(r.connect_ms.as_ref(), f),
        "connect_fail" => Some(r.failed as f64),
        "dropped" => Some(r.dropped as f64),
        _ => None,
    };
    r.fail_on = gate::judge(c, figure, r.clients);
}

/// The summary's lines: `fail-on   p99>50ms: HELD (measured 62.1 ms)`, one a condition.
pub fn lines(v: &[Verdict]) -> String {
    v.iter()
        .map(|v| {
            let figure = v
                .condition
                .split(['<', '>'])
                .next()
                .unwrap_or_default()
                .trim();
            let measured = match v.measured {
                None => "not measured".to_string(),
                Some(m) if LATENCY.contains(&figure) => format!("measured {m} ms"),
                Some(m) if v.condition.ends_with('%') => {
                    format!("measured {}%", sim_core::measure::round4(m * 100.0))
                }
                Some(m) => format!("measured {m}"),
            };
            let word = if v.held { "HELD" } else { "ok" };
            format!("fail-on   {}: {word} ({measured})\n", v.condition)
        })
        .collect()
}

/// Whether any condition held.
pub fn failed(v: &[Verdict]) -> bool {
    v.iter().any(|v| v.held)
}
