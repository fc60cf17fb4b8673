//! `FleetSnapshot`: what readers (the terminal UI) see of a running fleet. The run
//! publishes a fresh `Arc<FleetSnapshot>` through a watch channel a few times a second;
//! readers never lock the world or the ingest state.

use crate::analytics::fleet::Alert;
use crate::ingest::{IngestState, Watched};
use crate::run::progress::Phase;
use scenarios::Scenario;

/// One device as the UI lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// Fleet index.
    pub index: usize,
    /// Device id.
    pub id: String,
    /// The model (a guess, for a device attach found): its name, readings' units and
    /// switches.
    pub kind: scenarios::ModelKind,
    /// Environment name, or empty.
    pub environment: String,
    /// Distinct messages received.
    pub received: u64,
    /// Sim time of the latest message.
    pub last_seen: Option<f64>,
    /// Latest value of each reading.
    pub readings: Vec<(String, f64)>,
    /// Alert episodes still open.
    pub open_alerts: u32,
    /// Last status: online, offline, unknown.
    pub online: Option<bool>,
    /// Takes commands (relay, LED, heater, thermostat).
    pub actuator: bool,
}

/// The whole fleet at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetSnapshot {
    /// Scenario name.
    pub scenario: String,
    /// Broker URL.
    pub broker: String,
    /// Broker started in-process.
    pub embedded: bool,
    /// Run phase.
    pub phase: Phase,
    /// Sim seconds done.
    pub sim_now: f64,
    /// Sim seconds in the run.
    pub sim_duration: f64,
    /// `"240x"` or `"max"`.
    pub speed: String,
    /// Devices in the fleet.
    pub devices_total: u64,
    /// Devices whose last status is online.
    pub online: u64,
    /// Devices with at least one message back.
    pub seen: u64,
    /// Devices with an open alert.
    pub alerting: u64,
    /// Messages accepted by clients.
    pub sent: u64,
    /// Distinct messages received.
    pub received: u64,
    /// Sent and not (yet) received.
    pub in_flight_or_lost: u64,
    /// Dropped at source.
    pub dropped_at_source: u64,
    /// Messages on the fleet's topics not counted as its telemetry: undecodable,
    /// oversized, or not sent by the fleet.
    pub malformed: u64,
    /// Latency median, ms.
    pub latency_p50_ms: Option<f64>,
    /// Latency 99th percentile, ms.
    pub latency_p99_ms: Option<f64>,
    /// Messages received per wall second, oldest first.
    pub recv_rate: Vec<u64>,
    /// Every device, in fleet order.
    pub devices: Vec<DeviceRow>,
    /// The latest alerts, newest last.
    pub alerts: Vec<Alert>,
    /// History of the watched device, if a reader asked for one.
    pub detail: Option<DeviceDetail>,
}

/// The watched device's recent history.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceDetail {
    /// Fleet index.
    pub device: usize,
    /// Per reading: (sim time, value), oldest first.
    pub series: Vec<(String, Vec<(f64, f64)>)>,
    /// The latest raw payloads, oldest first.
    pub raw: Vec<String>,
    /// This device's alert episodes.
    pub alerts: Vec<Alert>,
}

/// Open alert episodes per device index.
pub(crate) fn open_alerts(alerts: &[Alert], devices: usize) -> Vec<u32> {
    let mut open = vec![0u32; devices];
    for a in alerts.iter().filter(|a| a.end.is_none()) {
        if let Some(o) = open.get_mut(a.device_index as usize) {
            *o += 1;
        }
    }
    open
}

/// Latency p50 and p99 in milliseconds, when there are samples.
pub(crate) fn p50_p99_ms(h: &hdrhistogram::Histogram<u64>) -> (Option<f64>, Option<f64>) {
    let l = crate::report::Latency::of(h);
    (l.map(|l| l.p50), l.map(|l| l.p99))
}

/// The latest value of each reading.
/// The latest value of each reading, in the model's order (its readings as the catalog
/// lists them, then any others by name), so every row of a model reads alike.
pub(crate) fn last_readings(
    t: &crate::ingest::DeviceTally,
    kind: &scenarios::ModelKind,
) -> Vec<(String, f64)> {
    let order = kind.readings();
    let mut v: Vec<(String, f64)> = t
        .readings
        .iter()
        .map(|(k, s)| (k.clone(), s.last))
        .collect();
    v.sort_by_cached_key(|(k, _)| {
        (
            order.iter().position(|o| o == k).unwrap_or(usize::MAX),
            k.clone(),
        )
    });
    v
}

/// Most alerts a snapshot carries.
const MAX_ALERTS: usize = 500;

impl FleetSnapshot {
    /// Build from the ingest state.
    pub fn build(
        scenario: &Scenario,
        st: &IngestState,
        head: SnapshotHead,
        recv_rate: &[u64],
    ) -> FleetSnapshot {
        let alerts = st.analytics.alerts();
        let open = open_alerts(&alerts, scenario.devices.len());
        let devices = device_rows(scenario, st, &open);
        let (p50, p99) = p50_p99_ms(&st.latency_us);
        let received: u64 = devices.iter().map(|d| d.received).sum();
        let skip = alerts.len().saturating_sub(MAX_ALERTS);
        FleetSnapshot {
            scenario: scenario.name.clone(),
            broker: head.broker,
            embedded: head.embedded,
            phase: head.phase,
            sim_now: head.sim_now,
            sim_duration: scenario.duration,
            speed: match scenario.speed {
                scenarios::Speed::Max => "max".into(),
                scenarios::Speed::Factor(f) => format!("{f}x"),
            },
            devices_total: devices.len() as u64,
            online: devices.iter().filter(|d| d.online == Some(true)).count() as u64,
            seen: devices.iter().filter(|d| d.received > 0).count() as u64,
            alerting: open.iter().filter(|&&o| o > 0).count() as u64,
            sent: head.sent,
            received,
            in_flight_or_lost: head.sent.saturating_sub(received),
            dropped_at_source: head.dropped_at_source,
            malformed: st.rejected.malformed() + st.rejected.foreign(),
            latency_p50_ms: p50,
            latency_p99_ms: p99,
            recv_rate: recv_rate.to_vec(),
            devices,
            detail: st.watched.as_ref().map(|w| detail(w, &alerts)),
            alerts: alerts.into_iter().skip(skip).collect(),
        }
    }
}

/// A row per device of the scenario, in fleet order.
fn device_rows(scenario: &Scenario, st: &IngestState, open: &[u32]) -> Vec<DeviceRow> {
    scenario
        .devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let t = &st.devices[i];
            let kind = d.model.kind();
            DeviceRow {
                index: i,
                id: d.id.clone(),
                environment: d
                    .environment
                    .map(|e| scenario.environments[e].name.clone())
                    .unwrap_or_default(),
                received: t.seq.received,
                last_seen: t.last_ts,
                readings: last_readings(t, &kind),
                open_alerts: open[i],
                online: t.online,
                actuator: kind.is_actuator(),
                kind,
            }
        })
        .collect()
}

/// The watched device's history and its alerts.
fn detail(w: &Watched, alerts: &[Alert]) -> DeviceDetail {
    DeviceDetail {
        device: w.device as usize,
        series: w
            .series
            .iter()
            .map(|(n, q)| (n.clone(), q.iter().copied().collect()))
            .collect(),
        raw: w.raw.iter().cloned().collect(),
        alerts: alerts
            .iter()
            .filter(|a| a.device_index == w.device)
            .cloned()
            .collect(),
    }
}

/// Run-level facts the ingest state does not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotHead {
    /// Broker URL.
    pub broker: String,
    /// Embedded broker.
    pub embedded: bool,
    /// Phase.
    pub phase: Phase,
    /// Sim seconds done.
    pub sim_now: f64,
    /// Messages sent.
    pub sent: u64,
    /// Dropped at source.
    pub dropped_at_source: u64,
}

#[cfg(test)]
mod tests {
    use crate::ingest::{DeviceTally, Stat};

    #[test]
    fn readings_come_in_the_models_order_whatever_came_first() {
        let stat = |v: f64| Stat {
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        };
        // A thermostat's first message had no temperature yet: it came last.
        let t = DeviceTally {
            readings: vec![
                ("heating".into(), stat(1.0)),
                ("enabled".into(), stat(1.0)),
                ("setpoint".into(), stat(21.0)),
                ("extra".into(), stat(0.0)),
                ("temperature".into(), stat(20.5)),
            ],
            ..Default::default()
        };
        let names: Vec<String> = super::last_readings(&t, &scenarios::ModelKind::Thermostat)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            names,
            ["temperature", "setpoint", "heating", "enabled", "extra"]
        );
    }
}
