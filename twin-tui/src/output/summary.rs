//! The summaries a load command and `twin report merge` print on stdout.

use sim_core::load::{BrokerLimits, ConnReport, LoadReport, ReasonCount, SubReport};
use sim_core::report::Latency;

/// Latency percentiles in ms, or "no samples".
pub fn percentiles(x: &Option<Latency>) -> String {
    x.map_or("no samples".to_string(), |l| {
        format!(
            "p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
            l.p50, l.p90, l.p99, l.p999, l.max
        )
    })
}

/// Which shard a report covers, or how many it was merged from ("" for neither).
fn origin(shard: Option<&str>, merged: u64) -> String {
    let shard = shard.map_or(String::new(), |s| format!(" (shard {s})"));
    let merged = if merged > 1 {
        format!(" (merged from {merged} reports)")
    } else {
        String::new()
    };
    shard + &merged
}

/// `twin load pub` (and a merged `load pub` report).
pub fn pub_summary(r: &LoadReport) -> String {
    let m = &r.messages;
    let origin = origin(r.shard.as_deref(), r.merged) + interrupted(r.interrupted);
    let mut out = format!(
        "load pub{origin}: {}, {} ({} seen), qos {}, {}, {:.1} s on {}\n\
         messages  {} sent, {} received, {} lost, {} duplicates, {} out of order ({:.0} recv/s)\n\
         acked     {}; dropped at source {} (buffer full {}, offline {}, unsent {}); {} retransmitted\n\
         latency   {}\n\
         intended  {}\n\
         ack       {}\n\
         connect   {} connected, {} failed, {} errors, {} reconnects (subscriber {}); {}\n\
         schedule  lag {}\n\
         cpu       {:.2} s ({:.2} s per 100k messages)\n",
        count(r.clients, "session", "sessions"),
        count(r.devices, "device", "devices"),
        r.devices_seen,
        r.qos,
        payload_words(r),
        r.wall_seconds,
        r.broker.url,
        m.sent,
        m.received,
        m.lost,
        m.duplicates,
        m.out_of_order,
        r.received_per_s,
        r.acked,
        m.dropped_at_source,
        r.dropped.buffer_full,
        r.dropped.offline,
        r.dropped.unsent,
        r.retransmitted,
        percentiles(&r.latency_ms),
        percentiles(&r.latency_intended_ms),
        percentiles(&r.ack_ms),
        r.connect.connected,
        r.connect.failed,
        r.connect.errors,
        r.connect.reconnects,
        r.connect.subscriber_reconnects,
        percentiles(&r.connect_ms),
        percentiles(&r.schedule_lag_ms),
        r.cpu_seconds,
        r.cpu_seconds * 100_000.0 / (m.sent.max(1) as f64),
    );
    out.push_str(&limits_line(&r.broker_limits, Some((r.inflight, r.qos))));
    out.push_str(&qos_line(
        r.qos,
        r.granted(),
        r.downgraded,
        r.downgrade.as_deref(),
    ));
    out.push_str(&reasons_line(&r.broker_reasons, r.stopped_by.as_deref()));
    out.push_str(pub_warning(r));
    out
}

/// What the broker announced that bounds the run ("" when it announced no limit):
/// Receive Maximum (with the window used, for `load pub`), Server Keep Alive, Maximum
/// QoS, Maximum Packet Size, and what it said it does not support.
pub fn limits_line(l: &BrokerLimits, window: Option<(u64, u8)>) -> String {
    let mut parts = Vec::new();
    if let Some(r) = l.receive_maximum {
        parts.push(match window {
            Some((w, qos)) if qos > 0 && w == u64::from(r) => {
                format!("Receive Maximum {r} (the in-flight window, capped by it)")
            }
            _ => format!("Receive Maximum {r}"),
        });
    }
    if let Some(k) = l.server_keep_alive {
        parts.push(format!("Server Keep Alive {k} s (kept)"));
    }
    if let Some(q) = l.maximum_qos {
        parts.push(format!("Maximum QoS {q}"));
    }
    if let Some(p) = l.maximum_packet_size {
        parts.push(format!("Maximum Packet Size {p} B"));
    }
    for (what, v) in [
        ("retain", l.retain_available),
        ("wildcard subscriptions", l.wildcard_subscriptions),
        ("shared subscriptions", l.shared_subscriptions),
    ] {
        if v == Some(false) {
            parts.push(format!("no {what}"));
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    format!("broker    {}\n", parts.join("; "))
}

/// The QoS the messages got, when less than asked or when acknowledgements said so.
pub fn qos_line(qos: u8, granted: u8, downgraded: u64, why: Option<&str>) -> String {
    if granted >= qos && downgraded == 0 {
        return String::new();
    }
    let why = why.map_or(String::new(), |w| format!("; {w}"));
    format!("qos       granted {granted} of {qos}: {downgraded} acknowledgements downgraded{why}\n")
}

/// Every reason code the broker sent, and why it ended the run ("" for none).
pub fn reasons_line(reasons: &[ReasonCount], stopped_by: Option<&str>) -> String {
    let mut out = String::new();
    if !reasons.is_empty() {
        let all: Vec<String> = reasons
            .iter()
            .map(|r| format!("{} {:#04x} {} x{}", r.packet, r.code, r.name, r.count))
            .collect();
        out.push_str(&format!("reasons   {}\n", all.join("; ")));
    }
    if let Some(why) = stopped_by {
        out.push_str(&format!("stopped   {why}\n"));
    }
    out
}

/// Who held a `load pub` run back, when someone did ("" otherwise).
fn pub_warning(r: &LoadReport) -> &'static str {
    if r.generator_behind {
        "warning   the generator fell behind its schedule while busy: twin, not only the \
         broker, limited this run (spread it with --shard)\n"
    } else if r.schedule_lag_ms.is_some_and(|l| l.p99 > 50.0) {
        "warning   publishes left late (lag p99 above 50 ms) while twin had CPU to spare: \
         the broker's back-pressure (acknowledgements, full in-flight windows) held the \
         rate down; the intended-time latency counts that wait\n"
    } else {
        ""
    }
}

/// `twin load conn` (and a merged `load conn` report).
pub fn conn_summary(r: &ConnReport) -> String {
    let origin = origin(r.shard.as_deref(), r.merged) + interrupted(r.interrupted);
    let codes: Vec<String> = r
        .refused_codes
        .iter()
        .map(|(code, n)| format!("{n} with code {code}"))
        .collect();
    let refused = if codes.is_empty() {
        format!("{} refused", r.refused)
    } else {
        format!("{} refused: {}", r.refused, codes.join(", "))
    };
    let rss = match (r.rss_kib, r.rss_per_session_kib) {
        (Some(total), Some(per)) => {
            format!("{total} KiB at the hold, rss per session {per:.2} KiB")
        }
        (Some(total), None) => format!("{total} KiB at the hold, rss per session -"),
        _ => "rss per session - (no /proc/self/status)".to_string(),
    };
    let mut out = format!(
        "load conn{origin}: {} of {} connected, {} failed ({refused}), {} held, ramp {:.1} s on {}\n\
         connect   {}\n\
         memory    {rss}\n",
        r.connected,
        r.clients,
        r.failed,
        r.held,
        r.ramp_seconds,
        r.broker.url,
        percentiles(&r.connect_ms)
    );
    out.push_str(&limits_line(&r.broker_limits, None));
    out.push_str(&reasons_line(&r.broker_reasons, None));
    out
}

/// `twin load sub`.
pub fn sub_summary(r: &SubReport) -> String {
    let m = &r.messages;
    let mut out = format!(
        "load sub{}: {} of {} subscribed to {} (qos {}), {:.1} s on {}\n\
         messages  {} received ({:.0}/s), {} distinct{} from {} publishers, {} duplicates, {} out of order, {} missing in sequence, {} untimed\n\
         latency   {}\n",
        interrupted(r.interrupted),
        r.subscribed,
        r.clients,
        r.filter,
        r.qos,
        r.wall_seconds,
        r.broker.url,
        m.received,
        r.received_per_s,
        m.distinct,
        each_counts(r.clients),
        r.publishers,
        m.duplicates,
        m.out_of_order,
        m.gaps,
        m.untimed,
        percentiles(&r.latency_ms)
    );
    out.push_str(&limits_line(&r.broker_limits, None));
    out.push_str(&qos_line(r.qos, r.qos_granted, r.downgraded, None));
    out.push_str(&reasons_line(&r.broker_reasons, r.stopped_by.as_deref()));
    out
}

/// With several subscribers, what the per-message counts are: each subscriber counts
/// what it received, and the counts add up (a message every subscriber got counts
/// once for each).
fn each_counts(clients: u64) -> String {
    if clients > 1 {
        format!(" (summed over the {clients} subscribers, each counting its own)")
    } else {
        String::new()
    }
}

/// The payload size: the bytes a message carried on average when that differs from
/// `size` (a `--payload` template with its accounting member), else `size`.
fn payload_words(r: &LoadReport) -> String {
    let sent = r.messages.sent;
    if sent == 0 || r.payload_bytes_sent == 0 {
        return format!("{} B", r.size);
    }
    let mean = r.payload_bytes_sent as f64 / sent as f64;
    if (mean - r.size as f64).abs() < 0.5 {
        format!("{} B", r.size)
    } else {
        format!("{mean:.0} B a message ({} B sent)", r.payload_bytes_sent)
    }
}

/// "1 session", "2 sessions".
pub(crate) fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The mark of a report a signal cut short, after the command's name.
fn interrupted(yes: bool) -> &'static str {
    if yes { " (interrupted)" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_says_its_shard_or_how_many_it_merged() {
        assert_eq!(origin(None, 1), "");
        assert_eq!(origin(Some("1/4"), 1), " (shard 1/4)");
        assert_eq!(origin(None, 4), " (merged from 4 reports)");
    }

    #[test]
    fn percentiles_in_ms_or_no_samples() {
        assert_eq!(percentiles(&None), "no samples");
        let l = Latency {
            p50: 1.0,
            p90: 2.0,
            p99: 3.0,
            p999: 4.0,
            max: 5.5,
            count: 10,
        };
        assert_eq!(
            percentiles(&Some(l)),
            "p50 1.00 p90 2.00 p99 3.00 p99.9 4.00 max 5.50 ms"
        );
    }
}
