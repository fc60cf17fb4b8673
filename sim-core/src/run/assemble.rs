//! The report of a finished run, assembled from what ingest, the sim, the dispatcher
//! and the sessions counted.

use crate::analytics::fleet::{Alert, FleetAnalytics};
use crate::analytics::score;
use crate::analytics::sensor::TrendLabel;
use crate::error::RunError;
use crate::fault::FaultRecord;
use crate::ingest::{DeviceTally, IngestState};
use crate::rejected::RejectedSummary;
use crate::report::*;
use crate::sim::SimStats;
use crate::transport::dispatch::DispatchStats;
use crate::transport::session::SessionStats;
use scenarios::Scenario;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// What ingest holds at the end of the run, taken while the sessions are still up.
pub(super) struct Results {
    devices: Vec<DeviceTally>,
    latency: Option<Latency>,
    latency_histogram: String,
    rejected: RejectedSummary,
    alerts: Vec<Alert>,
    windows: Vec<BTreeMap<String, WindowSummary>>,
}

/// Take the results from ingest, after a last look for silent devices at the end.
pub(super) fn take_results(
    scenario: &Scenario,
    state: &Mutex<IngestState>,
    sim: &SimStats,
) -> Result<Results, RunError> {
    let mut st = state
        .lock()
        .map_err(|_| std::io::Error::other("ingest state poisoned"))?;
    let end = sim.steps as f64 * scenario.tick;
    let now = st.analytics.now().unwrap_or(end).max(end);
    st.analytics.scan(now);
    Ok(Results {
        devices: st.devices.clone(),
        latency: Latency::of(&st.latency_us),
        latency_histogram: histogram_to_base64(&st.latency_us),
        rejected: st.rejected.summary(),
        alerts: st.analytics.alerts(),
        windows: (0..scenario.devices.len())
            .map(|i| window_summaries(&st.analytics, i as u32))
            .collect(),
    })
}

/// Everything the report is made of.
pub(super) struct Outcome<'a> {
    pub scenario: &'a Scenario,
    pub flow: FlowReport,
    pub url: String,
    pub embedded: bool,
    pub wall_seconds: f64,
    pub interrupted: bool,
    pub sim: SimStats,
    pub dispatch: DispatchStats,
    pub sessions: &'a SessionStats,
    pub results: Results,
}

/// The run's report.
pub(super) fn report(o: Outcome) -> Report {
    let scenario = o.scenario;
    let run_end = o.sim.steps as f64 * scenario.tick;
    let (per_device, messages) = per_device(&o);
    let planned = records(scenario, &o.sim.planned, run_end);
    let faults = records(scenario, &o.sim.faults, run_end);
    let periods: Vec<f64> = scenario.devices.iter().map(|d| d.publish_every).collect();
    let detection = (!faults.is_empty() || !planned.is_empty())
        .then(|| score::score(&faults, &planned, &o.results.alerts, &periods, run_end));
    let s = o.sessions;
    Report {
        flow: o.flow,
        fleet: fleet_aggregates(scenario, &per_device),
        tool: "twin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        command: "run".into(),
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        shard: scenario
            .shard
            .as_ref()
            .map(|s| format!("{}/{}", s.index, s.count)),
        merged: 1,
        sim_seconds: round4(run_end),
        wall_seconds: round4(o.wall_seconds),
        broker: BrokerInfo {
            url: o.url,
            embedded: o.embedded,
        },
        devices: DeviceCounts {
            total: scenario.devices.len() as u64,
            seen: per_device.iter().filter(|d| d.received > 0).count() as u64,
            online: per_device.iter().filter(|d| d.online).count() as u64,
        },
        messages,
        latency_ms: o.results.latency,
        histograms: BTreeMap::from([("latency".to_string(), o.results.latency_histogram)]),
        alerts: o.results.alerts,
        faults,
        planned,
        detection,
        per_device,
        interrupted: o.interrupted,
        rejected: o.results.rejected.clone(),
        cut_by_duration: Vec::new(),
        sessions: SessionCounts {
            opened: scenario.session_count() as u64,
            gateways: scenario.gateways().len() as u64,
            connect_errors: s.connect_errors.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            commands_applied: o.sim.commands_applied,
            commands_rejected: o.sim.commands_rejected
                + s.malformed_commands.load(Ordering::Relaxed)
                + s.commands_dropped.load(Ordering::Relaxed),
        },
    }
}

/// One report entry per device, and the fleet's message counts (their sum).
fn per_device(o: &Outcome) -> (Vec<DeviceReport>, MessageCounts) {
    let mut counts = MessageCounts {
        malformed: o.results.rejected.malformed + o.results.rejected.oversized,
        foreign: o.results.rejected.foreign(),
        ..MessageCounts::default()
    };
    let mut per_device = Vec::with_capacity(o.scenario.devices.len());
    for (i, d) in o.scenario.devices.iter().enumerate() {
        let t = &o.results.devices[i];
        let sent = o.dispatch.sent[i];
        let mine = MessageCounts {
            sent,
            received: t.seq.received,
            lost: sent.saturating_sub(t.seq.received),
            duplicates: t.seq.duplicates,
            out_of_order: t.seq.out_of_order,
            dropped_at_source: o.sim.dropped_at_source[i] + o.dispatch.dropped[i],
            malformed: 0,
            foreign: 0,
        };
        counts.merge(&mine);
        per_device.push(DeviceReport {
            id: d.id.clone(),
            model: d.model.kind().name().to_string(),
            fleet_index: o.scenario.fleet_index(i) as u64,
            group: o.scenario.groups[d.group].id_template.clone(),
            environment: d
                .environment
                .map(|e| o.scenario.environments[e].name.clone()),
            publish_every: d.publish_every,
            sent,
            received: t.seq.received,
            lost: mine.lost,
            duplicates: t.seq.duplicates,
            out_of_order: t.seq.out_of_order,
            gaps: t.gaps(),
            dropped_at_source: mine.dropped_at_source,
            online: t.online == Some(true),
            readings: readings(t),
            windows: o.results.windows[i].clone(),
        });
    }
    (per_device, counts)
}

/// min/mean/max of each reading a device sent.
fn readings(t: &DeviceTally) -> BTreeMap<String, ReadingSummary> {
    t.readings
        .iter()
        .map(|(name, s)| {
            let summary = ReadingSummary {
                min: round4(s.min),
                mean: round4(s.mean()),
                max: round4(s.max),
            };
            (name.clone(), summary)
        })
        .collect()
}

/// The ground truth (or the planned episodes) with device ids filled in, and open
/// ones ended at the run's end.
fn records(scenario: &Scenario, of: &[FaultRecord], run_end: f64) -> Vec<FaultRecord> {
    of.iter()
        .map(|f| {
            let mut f = f.clone();
            f.device = scenario.devices[f.device_index as usize].id.clone();
            f.end = f.end.min(run_end);
            f
        })
        .collect()
}

/// Aggregates per device group and per environment.
fn fleet_aggregates(scenario: &Scenario, per_device: &[DeviceReport]) -> FleetAggregates {
    let members = |belongs: &dyn Fn(usize) -> bool| -> Vec<usize> {
        (0..scenario.devices.len())
            .filter(|&i| belongs(i))
            .collect()
    };
    FleetAggregates {
        groups: scenario
            .groups
            .iter()
            .enumerate()
            .map(|(g, spec)| {
                let m = members(&|i| scenario.devices[i].group == g);
                aggregate(spec.id_template.clone(), &m, per_device)
            })
            .collect(),
        environments: scenario
            .environments
            .iter()
            .enumerate()
            .map(|(e, spec)| {
                let m = members(&|i| scenario.devices[i].environment == Some(e));
                aggregate(spec.name.clone(), &m, per_device)
            })
            .collect(),
    }
}

/// A device's analytics windows at the end of the run, for the readings it sent.
fn window_summaries(a: &FleetAnalytics, d: u32) -> BTreeMap<String, WindowSummary> {
    a.sensor_summaries(d)
        .into_iter()
        .filter(|(_, _, w)| w.count > 0)
        .map(|(name, t, w)| {
            let summary = WindowSummary {
                count: w.count as u64,
                mean: round4(w.mean),
                std: round4(w.std),
                p95: round4(w.p95),
                slope_per_hour: round4(t.slope_per_hour),
                trend: match t.label {
                    TrendLabel::Increasing => "increasing",
                    TrendLabel::Decreasing => "decreasing",
                    TrendLabel::Stable => "stable",
                }
                .to_string(),
            };
            (name.to_string(), summary)
        })
        .collect()
}
