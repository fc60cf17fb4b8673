//! The report of a `load pub` run, from what its sessions and subscribers counted.

use crate::load::payload::HEADER;
use crate::load::process::process_cpu_seconds;
use crate::load::publish::context::PubRun;
use crate::load::publish::sessions::Outcomes;
use crate::load::publish::tally::SubState;
use crate::load::report::{ConnectCounts, LoadReport};
use crate::measure::{Latency, histogram_to_base64, round4};
use crate::run::RunError;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// When the phases of a run ended.
pub(crate) struct Times {
    /// The first session was started.
    pub run_start: Instant,
    /// Every schedule was written (or could not have been by then).
    pub publish_end: Instant,
    /// The publishers were released and collected.
    pub ended: Instant,
}

/// The histograms behind the report's percentiles, by name, as base64.
fn histograms(st: &SubState, o: &Outcomes) -> BTreeMap<String, String> {
    [
        ("latency", &st.actual),
        ("intended", &st.intended),
        ("ack", &o.ack),
        ("connect", &o.connect),
        ("schedule_lag", &o.lag),
    ]
    .into_iter()
    .map(|(name, h)| (name.to_string(), histogram_to_base64(h)))
    .collect()
}

impl PubRun<'_> {
    /// The report: message accounting per device, the histograms, the connection
    /// counts, what the generator cost.
    pub(crate) fn report(
        &self,
        o: Outcomes,
        times: Times,
        subscriber_reconnects: u64,
    ) -> Result<LoadReport, RunError> {
        let (spec, c) = (self.spec, &self.counters);
        let start = o.first_start.unwrap_or(times.run_start);
        let wall = (times.ended.max(start) - start).as_secs_f64();
        let publish_secs = (times.publish_end.max(start) - start)
            .as_secs_f64()
            .max(1e-3);
        let cpu_seconds = match (self.cpu0, process_cpu_seconds()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        let st = self
            .state
            .lock()
            .map_err(|_| std::io::Error::other("load state poisoned"))?;
        let m = st.messages(&o.sent, o.dropped.total());
        let lag_p99_ms = if o.lag.is_empty() {
            0.0
        } else {
            o.lag.value_at_quantile(0.99) as f64 / 1000.0
        };
        let histograms = histograms(&st, &o);
        Ok(LoadReport {
            tool: "twin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: "load pub".into(),
            broker: self.target.info(),
            shard: spec.shard.label(),
            merged: 1,
            clients: self.sessions.len() as u64,
            devices: st.tallies.len() as u64,
            devices_seen: st.devices_seen(),
            qos: spec.qos,
            qos_granted: self.qos.min(self.observed.qos_granted()),
            downgraded: self.observed.downgraded(),
            downgrade: self.downgrade.clone(),
            inflight: self.inflight as u64,
            size: spec
                .payload
                .as_ref()
                .map_or(spec.size.max(HEADER), String::len) as u64,
            payload_bytes_sent: o.payload_bytes,
            wall_seconds: round4(wall),
            received_per_s: round4(m.received as f64 / publish_secs),
            messages: m,
            acked: c.acked.load(Ordering::Relaxed),
            dropped: o.dropped,
            retransmitted: c.retransmitted.load(Ordering::Relaxed),
            foreign: st.foreign,
            connect: ConnectCounts {
                connected: o.connected,
                failed: o.failed,
                errors: c.errors.load(Ordering::Relaxed),
                reconnects: c.reconnects.load(Ordering::Relaxed),
                subscriber_reconnects,
            },
            latency_ms: Latency::of(&st.actual),
            latency_intended_ms: Latency::of(&st.intended),
            ack_ms: Latency::of(&o.ack),
            connect_ms: Latency::of(&o.connect),
            schedule_lag_ms: Latency::of(&o.lag),
            schedule_lag_max_ms: round4(o.lag.max() as f64 / 1000.0),
            cpu_seconds: round4(cpu_seconds),
            generator_behind: lag_p99_ms > 50.0 && cpu_seconds / wall.max(1e-3) > 0.8,
            histograms,
            broker_limits: self.limits.clone(),
            broker_reasons: self.observed.reasons(),
            interrupted: false,
            fail_on: Vec::new(),
            stopped_by: self.observed.stopped_by(),
        })
    }
}
