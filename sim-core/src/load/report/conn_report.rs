//! The report of `twin load conn` and the merge of its shard reports.

use crate::load::error::LoadError;
use crate::load::report::conformance::{BrokerLimits, ReasonCount, add_reasons};
use crate::load::report::histograms::{add_histograms, one};
use crate::measure::{Latency, histogram_to_base64, round4};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The report of `twin load conn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConnReport {
    /// `"twin"`.
    pub tool: String,
    /// Crate version.
    pub version: String,
    /// `"load conn"`.
    pub command: String,
    /// Broker used.
    pub broker: crate::report::BrokerInfo,
    /// `"i/N"` for one shard; absent for a whole run or a merge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// How many reports were merged into this one (1 for a single run).
    #[serde(default = "one")]
    pub merged: u64,
    /// Sessions this report covers (this shard's slice).
    pub clients: u64,
    /// Sessions that got a CONNACK with return code 0.
    pub connected: u64,
    /// Sessions that did not (refused, timed out, I/O error); `refused` is part of it.
    pub failed: u64,
    /// Of `failed`, those the broker answered with a non-zero CONNACK return code.
    #[serde(default)]
    pub refused: u64,
    /// `refused` by CONNACK return code (5 = not authorized, ...).
    #[serde(default)]
    pub refused_codes: BTreeMap<u8, u64>,
    /// Sessions still up at the end of the hold.
    pub held: u64,
    /// Sessions that dropped during the hold (the broker's DISCONNECT reasons are in
    /// `broker_reasons`).
    #[serde(default)]
    pub dropped: u64,
    /// The keep-alive the sessions kept, seconds: `--keep-alive`, or the broker's
    /// Server Keep Alive when it sent one (the sessions ping at half of it).
    #[serde(default)]
    pub keep_alive_s: u64,
    /// TCP connect + CONNECT → CONNACK latency.
    pub connect_ms: Option<Latency>,
    /// Seconds from the first attempt to the last CONNACK.
    pub ramp_seconds: f64,
    /// This process's resident memory at the end of the hold, KiB (summed over merged
    /// reports). Absent where `/proc/self/status` is not readable.
    #[serde(default)]
    pub rss_kib: Option<u64>,
    /// Resident memory each held session cost this process: (RSS at the end of the hold −
    /// RSS before the first connection) / held, KiB. With the embedded broker this
    /// includes the broker's side of each session. Merged: the mean weighted by `held`.
    #[serde(default)]
    pub rss_per_session_kib: Option<f64>,
    /// The histograms behind the percentiles (`"connect"`: µs, HdrHistogram V2 deflate,
    /// base64), so `twin report merge` adds shards exactly.
    #[serde(default)]
    pub histograms: BTreeMap<String, String>,
    /// What the broker's CONNACK announced (MQTT 5 properties; all `null` from a 3.1.1
    /// broker).
    #[serde(default)]
    pub broker_limits: BrokerLimits,
    /// Every DISCONNECT the broker sent a held session, by reason code.
    #[serde(default)]
    pub broker_reasons: Vec<ReasonCount>,
    /// Why the first attempt that got no CONNACK failed ("connection refused", "TLS
    /// failed: ..."), when one did before any session connected; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// A signal (SIGINT, SIGTERM, SIGHUP) ended the run before its end; the counts and
    /// `wall_seconds` cover the time until then (exit code 130).
    #[serde(default)]
    pub interrupted: bool,
    /// Each `--fail-on` condition with what the run measured, and whether it held (the
    /// command then exits 3); empty without `--fail-on`.
    #[serde(default)]
    pub fail_on: Vec<crate::load::gate::Verdict>,
}

/// Add shard reports of one `twin load conn` into one: counts add, the connect
/// histograms add (so the percentiles are those of one run over all sessions), the ramp
/// is the longest shard's.
pub fn merge_conn(reports: &[ConnReport]) -> Result<ConnReport, LoadError> {
    let first = reports.first().ok_or(LoadError::NothingToMerge)?;
    let mut out = first.clone();
    out.shard = None;
    out.merged = 0;
    (
        out.clients,
        out.connected,
        out.failed,
        out.refused,
        out.held,
    ) = (0, 0, 0, 0, 0);
    out.refused_codes.clear();
    out.dropped = 0;
    out.broker_reasons = Vec::new();
    out.ramp_seconds = 0.0;
    let mut rss_kib = Some(0u64);
    let mut rss_weighted = Some(0.0f64);
    let mut shards = std::collections::BTreeSet::new();
    let mut hists: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for (n, r) in reports.iter().enumerate() {
        if r.command != "load conn" {
            return Err(LoadError::Merge(format!(
                "report {} is a `{}` report, not a `load conn` one",
                n + 1,
                r.command
            )));
        }
        if let Some(s) = &r.shard
            && !shards.insert(s.clone())
        {
            return Err(LoadError::Merge(format!("shard {s} appears twice")));
        }
        if r.connected > 0 && !r.histograms.contains_key("connect") {
            return Err(LoadError::Merge(format!(
                "report {} has no connect histogram, so its percentiles cannot be merged",
                n + 1
            )));
        }
        out.merged += r.merged;
        out.clients += r.clients;
        out.connected += r.connected;
        out.failed += r.failed;
        out.refused += r.refused;
        out.held += r.held;
        out.dropped += r.dropped;
        add_reasons(&mut out.broker_reasons, &r.broker_reasons);
        out.interrupted |= r.interrupted;
        if out.first_failure.is_none() {
            out.first_failure.clone_from(&r.first_failure);
        }
        for (code, k) in &r.refused_codes {
            *out.refused_codes.entry(*code).or_default() += k;
        }
        out.ramp_seconds = out.ramp_seconds.max(r.ramp_seconds);
        rss_kib = rss_kib.zip(r.rss_kib).map(|(a, b)| a + b);
        rss_weighted = match r.rss_per_session_kib {
            Some(p) => rss_weighted.map(|w| w + p * r.held as f64),
            None if r.held == 0 => rss_weighted,
            None => None,
        };
        add_histograms(&mut hists, &r.histograms)?;
    }
    out.connect_ms = hists.get("connect").and_then(Latency::of);
    out.rss_kib = rss_kib;
    out.rss_per_session_kib = rss_weighted
        .filter(|_| out.held > 0)
        .map(|w| round4(w / out.held as f64));
    out.histograms = hists
        .iter()
        .map(|(k, h)| (k.clone(), histogram_to_base64(h)))
        .collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::latency_histogram;

    fn report(shard: &str, connected: u64, held: u64, micros: &[u64]) -> ConnReport {
        let mut h = latency_histogram();
        for &us in micros {
            h.record(us).unwrap();
        }
        ConnReport {
            tool: "twin".into(),
            version: "0".into(),
            command: "load conn".into(),
            broker: crate::report::BrokerInfo {
                url: "mqtt://127.0.0.1:1883".into(),
                embedded: false,
            },
            shard: Some(shard.into()),
            merged: 1,
            clients: connected + 1,
            connected,
            failed: 1,
            refused: 1,
            refused_codes: BTreeMap::from([(5, 1)]),
            held,
            connect_ms: Latency::of(&h),
            ramp_seconds: connected as f64,
            rss_kib: Some(10_000),
            rss_per_session_kib: Some(if held > 0 {
                2.0 * connected as f64
            } else {
                0.0
            }),
            histograms: BTreeMap::from([("connect".into(), histogram_to_base64(&h))]),
            dropped: 0,
            keep_alive_s: 60,
            broker_limits: BrokerLimits::default(),
            broker_reasons: Vec::new(),
            first_failure: None,
            interrupted: false,
            fail_on: Vec::new(),
        }
    }

    #[test]
    fn conn_shards_merge_to_their_totals() {
        let a = report("0/2", 3, 3, &[1_000, 2_000, 3_000]);
        let b = report("1/2", 2, 1, &[50_000, 60_000]);
        let m = merge_conn(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.merged, 2);
        assert_eq!(m.shard, None);
        assert_eq!(
            (m.clients, m.connected, m.failed, m.refused, m.held),
            (7, 5, 2, 2, 4)
        );
        assert_eq!(m.refused_codes, BTreeMap::from([(5, 2)]));
        assert_eq!(m.ramp_seconds, 3.0);
        let l = m.connect_ms.unwrap();
        assert_eq!(l.count, 5);
        assert_eq!(l.max, b.connect_ms.unwrap().max);
        assert_eq!(l.p50, a.connect_ms.unwrap().max);
        assert_eq!(m.rss_kib, Some(20_000));
        // (6 KiB × 3 held + 4 KiB × 1 held) / 4 held.
        assert_eq!(m.rss_per_session_kib, Some(5.5));
        // A merged report merges again, and the same shard twice or a mix is refused.
        let again = merge_conn(std::slice::from_ref(&m)).unwrap();
        assert_eq!((again.merged, again.connected), (2, 5));
        assert!(merge_conn(&[a.clone(), a.clone()]).is_err());
        let mut other = b;
        other.command = "load pub".into();
        assert!(merge_conn(&[a, other]).is_err());
        assert!(merge_conn(&[]).is_err());
    }
}
