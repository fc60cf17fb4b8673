//! The mirror's report: the run-report contract with one entry per device.

use crate::mirror::device::Device;
use crate::mirror::machine::Mirror;
use crate::report::{MirrorReport, MirroredDevice, Reading, ShadowReport, TwinReport};
use sim_core::report::{BrokerInfo, DeviceCounts, MessageCounts, round4};

impl Mirror {
    /// The report as things stand at `now`.
    pub fn report(&self, now: f64, broker: BrokerInfo, interrupted: bool) -> MirrorReport {
        let t = (now - self.started).max(self.clock);
        let per_device: Vec<MirroredDevice> = self.devices.iter().map(device_report).collect();
        let received: u64 = per_device.iter().map(|d| d.received).sum();
        let lost: u64 = per_device.iter().map(|d| d.lost).sum();
        let malformed: u64 =
            per_device.iter().map(|d| d.malformed).sum::<u64>() + self.unattributed_malformed;
        let mut alerts = self.analytics.alerts();
        alerts.extend(self.alerts.iter().cloned());
        alerts.sort_by(|a, b| a.start.total_cmp(&b.start));
        for a in &mut alerts {
            a.start = round4(a.start);
            a.raised = round4(a.raised);
            a.end = a.end.map(round4);
        }
        MirrorReport {
            tool: "twin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            command: "mirror".into(),
            scenario: self.fleet.clone(),
            seed: 0,
            sim_seconds: round4(t),
            wall_seconds: round4(t),
            broker,
            devices: DeviceCounts {
                total: per_device.len() as u64,
                seen: per_device.iter().filter(|d| d.received > 0).count() as u64,
                online: per_device.iter().filter(|d| d.online).count() as u64,
            },
            messages: MessageCounts {
                sent: received + lost,
                received,
                lost,
                malformed,
                ..MessageCounts::default()
            },
            latency_ms: None,
            alerts,
            per_device,
            commands_sent: self.commands_sent,
            unattributed_malformed: self.unattributed_malformed,
            interrupted,
        }
    }
}

/// One device's entry in the report.
fn device_report(d: &Device) -> MirroredDevice {
    MirroredDevice {
        id: d.cfg.id.clone(),
        model: d.model.as_ref().map(|m| m.name().to_string()),
        adapter: d.adapter.name().into(),
        received: d.received,
        lost: d.lost,
        malformed: d.malformed,
        last_malformed: d.last_malformed.clone(),
        online: d.online,
        last_seen: d.last_seen.map(round4),
        readings: d
            .readings
            .iter()
            .map(|(k, a)| {
                (
                    k.clone(),
                    Reading {
                        min: round4(a.min),
                        mean: round4(a.sum / a.count as f64),
                        max: round4(a.max),
                        last: round4(a.last),
                        count: a.count,
                    },
                )
            })
            .collect(),
        shadow: ShadowReport {
            desired: d.shadow.desired.clone(),
            reported: d.shadow.reported.clone(),
            delta: d.shadow.delta(),
            version: d.shadow.version,
        },
        twin: d.twin.as_ref().map(|t| TwinReport {
            reading: t.cfg.reading.clone(),
            predicted: t.predicted().map(round4),
            residual: t.residual.map(round4),
            max_abs_residual: round4(t.max_abs_residual),
            heater_on: t.heater_on,
            diverging: t.diverging,
        }),
    }
}
