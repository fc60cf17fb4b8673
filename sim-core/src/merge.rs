//! Merging the run reports of the shards of one fleet (`twin run --shard i/N`, then
//! `twin report merge`) into the report one unsharded run would have written.
//!
//! The reports carry all the merge needs, so it needs no scenario file: each device
//! entry its unsharded `fleet_index`, its group, environment and publish period, and
//! each report its latency histogram. What the merge does:
//!
//! - checks the reports are the shards of one run: `command` `"run"`, one scenario and
//!   seed, one N, every shard `0/N` … `N-1/N` exactly once (a report without `shard` is
//!   a whole fleet, `0/1`), and device entries that make one fleet;
//! - `per_device` in fleet order; counts (`messages`, `sessions`, `devices`) add;
//!   latency from the added histograms (exact percentiles);
//! - `alerts` and `faults` concatenated and sorted (alerts by raised, device, start,
//!   kind, reading; faults by start, device, kind, reading), since their order in one
//!   run is the order they happened to be seen;
//! - `detection` graded again over the merged ground truth (`analytics::score`);
//!   `fleet` aggregated again over the merged devices;
//! - `sim_seconds` and `wall_seconds` the largest of the shards', `interrupted` if any
//!   shard was.

use crate::analytics::fleet::Alert;
use crate::analytics::score;
use crate::error::MergeError;
use crate::fault::FaultRecord;
use crate::measure::{Latency, histogram_from_base64, histogram_to_base64, latency_histogram};
use crate::report::{
    Aggregate, DeviceCounts, DeviceReport, FleetAggregates, FlowReport, MessageCounts, Report,
    SessionCounts, aggregate,
};
use std::collections::{BTreeMap, HashMap};

/// A report and the name it was read under (its file), for the errors.
pub type NamedReport = (String, Report);

/// Merge the shard reports of one run.
pub fn merge(reports: &[NamedReport]) -> Result<Report, MergeError> {
    let (_, first) = reports.first().ok_or(MergeError::NoReports)?;
    same_run(reports)?;
    check_shards(reports)?;
    let per_device = per_device(reports)?;
    let index: HashMap<&str, u32> = per_device
        .iter()
        .enumerate()
        .map(|(i, d)| (d.id.as_str(), i as u32))
        .collect();
    let alerts = alerts(reports, &index)?;
    let planned = records(reports, &index, "a planned episode", |r| &r.planned)?;
    let faults = records(reports, &index, "a fault", |r| &r.faults)?;
    let sim_seconds = reports
        .iter()
        .map(|(_, r)| r.sim_seconds)
        .fold(0.0, f64::max);
    let periods: Vec<f64> = per_device.iter().map(|d| d.publish_every).collect();
    let detection = (!faults.is_empty() || !planned.is_empty())
        .then(|| score::score(&faults, &planned, &alerts, &periods, sim_seconds));
    let latency = histogram(reports)?;
    let mut out = first.clone();
    out.shard = None;
    out.merged = reports.iter().map(|(_, r)| r.merged).sum();
    out.sim_seconds = sim_seconds;
    out.wall_seconds = reports
        .iter()
        .map(|(_, r)| r.wall_seconds)
        .fold(0.0, f64::max);
    out.interrupted = reports.iter().any(|(_, r)| r.interrupted);
    out.flow = flow(reports);
    out.devices = DeviceCounts {
        total: per_device.len() as u64,
        seen: per_device.iter().filter(|d| d.received > 0).count() as u64,
        online: per_device.iter().filter(|d| d.online).count() as u64,
    };
    out.messages = MessageCounts::default();
    out.sessions = SessionCounts::default();
    out.rejected = Default::default();
    for (_, r) in reports {
        out.messages.merge(&r.messages);
        out.rejected.merge(&r.rejected);
        add_sessions(&mut out.sessions, &r.sessions);
    }
    out.latency_ms = Latency::of(&latency);
    out.histograms = BTreeMap::from([("latency".to_string(), histogram_to_base64(&latency))]);
    out.fleet = fleet(&first.fleet, &per_device);
    out.alerts = alerts;
    out.faults = faults;
    out.planned = planned;
    out.detection = detection;
    out.per_device = per_device;
    Ok(out)
}

/// The shards' `flow`: the slowest shard's speed (the fleet's day took that long), the
/// longest hold, every write-off.
fn flow(reports: &[(String, Report)]) -> FlowReport {
    let mut out = reports[0].1.flow;
    for (_, r) in &reports[1..] {
        out.speed_achieved = out.speed_achieved.min(r.flow.speed_achieved);
        out.held_seconds = out.held_seconds.max(r.flow.held_seconds);
        out.written_off += r.flow.written_off;
    }
    out
}

/// Every report is a `run` of the first one's scenario and seed.
fn same_run(reports: &[NamedReport]) -> Result<(), MergeError> {
    let (first_name, first) = &reports[0];
    for (name, r) in reports {
        let differ = |what, theirs: String, ours: String| MergeError::Differ {
            file: name.clone(),
            what,
            theirs,
            first: first_name.clone(),
            ours,
        };
        if r.command != "run" {
            return Err(differ("command", r.command.clone(), first.command.clone()));
        }
        if r.scenario != first.scenario {
            return Err(differ(
                "scenario",
                r.scenario.clone(),
                first.scenario.clone(),
            ));
        }
        if r.seed != first.seed {
            return Err(differ("seed", r.seed.to_string(), first.seed.to_string()));
        }
    }
    Ok(())
}

/// `(index, count)` of a report's `shard`; a whole fleet is `0/1`.
fn shard_of(name: &str, r: &Report) -> Result<(usize, usize), MergeError> {
    let Some(label) = &r.shard else {
        return Ok((0, 1));
    };
    let bad = || MergeError::BadShard {
        file: name.to_string(),
        label: label.clone(),
    };
    let (i, n) = label.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// One N, and every shard of it exactly once.
fn check_shards(reports: &[NamedReport]) -> Result<(), MergeError> {
    let (first_name, first) = &reports[0];
    let (_, count) = shard_of(first_name, first)?;
    let label = |(i, n): (usize, usize)| format!("{i}/{n}");
    let mut given: Vec<Option<&str>> = vec![None; count];
    for (name, r) in reports {
        let (i, n) = shard_of(name, r)?;
        if n != count {
            return Err(MergeError::Split {
                file: name.clone(),
                theirs: label((i, n)),
                first: first_name.clone(),
                ours: format!("i/{count}"),
            });
        }
        if let Some(earlier) = given[i] {
            return Err(MergeError::Duplicate {
                shard: label((i, n)),
                first: earlier.to_string(),
                second: name.clone(),
            });
        }
        given[i] = Some(name);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| given[i].is_none())
        .map(|i| label((i, count)))
        .collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing {
            missing: missing.join(", "),
            count,
        });
    }
    Ok(())
}

/// Every report's device entries in fleet order; their indices must be `0..n` once each.
fn per_device(reports: &[NamedReport]) -> Result<Vec<DeviceReport>, MergeError> {
    let total: usize = reports.iter().map(|(_, r)| r.per_device.len()).sum();
    let mut slots: Vec<Option<DeviceReport>> = vec![None; total];
    for (name, r) in reports {
        for d in &r.per_device {
            let slot = usize::try_from(d.fleet_index)
                .ok()
                .and_then(|i| slots.get_mut(i))
                .filter(|s| s.is_none());
            let Some(slot) = slot else {
                return Err(MergeError::Fleet {
                    file: name.clone(),
                    id: d.id.clone(),
                    index: d.fleet_index,
                    total,
                });
            };
            *slot = Some(d.clone());
        }
    }
    // `total` entries filled with `total` distinct indices below `total`: all are set.
    Ok(slots.into_iter().flatten().collect())
}

/// The merged fleet index of a device named in `file`.
fn index_of(
    index: &HashMap<&str, u32>,
    file: &str,
    what: &'static str,
    id: &str,
) -> Result<u32, MergeError> {
    index
        .get(id)
        .copied()
        .ok_or_else(|| MergeError::UnknownDevice {
            file: file.to_string(),
            what,
            id: id.to_string(),
        })
}

/// Every report's alerts, their device indices the merged fleet's, in a fixed order.
fn alerts(reports: &[NamedReport], index: &HashMap<&str, u32>) -> Result<Vec<Alert>, MergeError> {
    let mut out = Vec::new();
    for (name, r) in reports {
        for a in &r.alerts {
            let mut a = a.clone();
            a.device_index = index_of(index, name, "an alert", &a.device)?;
            out.push(a);
        }
    }
    out.sort_by(|a, b| {
        a.raised
            .total_cmp(&b.raised)
            .then(a.device_index.cmp(&b.device_index))
            .then(a.start.total_cmp(&b.start))
            .then(a.kind.cmp(&b.kind))
            .then(a.sensor.cmp(&b.sensor))
    });
    Ok(out)
}

/// Every report's faults (or planned episodes, as `of` picks), their device indices
/// the merged fleet's, in a fixed order.
fn records(
    reports: &[NamedReport],
    index: &HashMap<&str, u32>,
    what: &'static str,
    of: fn(&Report) -> &[FaultRecord],
) -> Result<Vec<FaultRecord>, MergeError> {
    let mut out = Vec::new();
    for (name, r) in reports {
        for f in of(r) {
            let mut f = f.clone();
            f.device_index = index_of(index, name, what, &f.device)?;
            out.push(f);
        }
    }
    out.sort_by(|a, b| {
        a.start
            .total_cmp(&b.start)
            .then(a.device_index.cmp(&b.device_index))
            .then(a.kind.cmp(&b.kind))
            .then(a.sensor.cmp(&b.sensor))
            .then(a.end.total_cmp(&b.end))
    });
    Ok(out)
}

/// The reports' latency histograms added.
fn histogram(reports: &[NamedReport]) -> Result<hdrhistogram::Histogram<u64>, MergeError> {
    let mut sum = latency_histogram();
    for (name, r) in reports {
        for (hname, text) in &r.histograms {
            let bad = |why: String| MergeError::Histogram {
                file: name.clone(),
                name: hname.clone(),
                why,
            };
            let h = histogram_from_base64(text).map_err(|e| bad(e.to_string()))?;
            if hname == "latency" {
                sum.add(&h).map_err(|e| bad(format!("{e:?}")))?;
            }
        }
    }
    Ok(sum)
}

fn add_sessions(to: &mut SessionCounts, s: &SessionCounts) {
    to.opened += s.opened;
    to.gateways += s.gateways;
    to.connect_errors += s.connect_errors;
    to.reconnects += s.reconnects;
    to.commands_applied += s.commands_applied;
    to.commands_rejected += s.commands_rejected;
}

/// The fleet aggregates again, over the merged devices, in the shards' order of names
/// (every shard lists every group and environment).
fn fleet(names: &FleetAggregates, per_device: &[DeviceReport]) -> FleetAggregates {
    let over = |list: &[Aggregate], belongs: &dyn Fn(&DeviceReport, &str) -> bool| {
        list.iter()
            .map(|a| {
                let members: Vec<usize> = (0..per_device.len())
                    .filter(|&i| belongs(&per_device[i], &a.name))
                    .collect();
                aggregate(a.name.clone(), &members, per_device)
            })
            .collect()
    };
    FleetAggregates {
        groups: over(&names.groups, &|d, n| d.group == n),
        environments: over(&names.environments, &|d, n| {
            d.environment.as_deref() == Some(n)
        }),
    }
}
