//! Publish: actuators stage their state, batteries drain, and each due message goes to
//! the outbox with `try_send` (a full outbox is counted as dropped at source) and is
//! counted into the run's flow window.

use super::io::Io;
use super::resources::{SimClock, SimStats};
use crate::model::sensors::{f, lipo_voltage};
use crate::model::*;
use crate::wire::{Telemetry, Value};
use bevy_ecs::prelude::*;
use tokio::sync::mpsc::error::TrySendError;

pub(super) fn stage_switches(
    mut q: Query<(&Publisher, &Switch, Option<&HeaterPower>, &mut Staged)>,
) {
    for (p, s, power, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        staged.readings.push(("on", Value::Bool(s.on)));
        if let Some(w) = power {
            staged
                .readings
                .push(f("power", if s.on { w.0 } else { 0.0 }));
        }
    }
}

pub(super) fn stage_thermostats(mut q: Query<(&Publisher, &Thermostat, &mut Staged)>) {
    for (p, t, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        if let Some(temp) = t.temperature {
            staged.readings.push(f("temperature", temp));
        }
        staged.readings.extend([
            f("setpoint", t.setpoint),
            ("heating", Value::Bool(t.heating)),
            ("enabled", Value::Bool(t.enabled)),
        ]);
    }
}

pub(super) fn drain_batteries(
    mut q: Query<(
        &Publisher,
        &mut Battery,
        &mut Link,
        &mut Staged,
        Option<&BatteryNode>,
    )>,
) {
    for (p, mut b, mut link, mut staged, node) in &mut q {
        if !p.due {
            continue;
        }
        b.charge_mah = (b.charge_mah - b.drain_mah).max(0.0);
        let soc = b.charge_mah / b.capacity_mah;
        staged
            .readings
            .push(("battery", Value::Int((soc * 100.0).round() as i64)));
        if node.is_some() {
            staged.readings.push(f("voltage", lipo_voltage(soc)));
            staged.expected.push(("voltage", lipo_voltage(soc)));
        }
        // Tolerate float residue: 1 mAh drained in 0.1 mAh steps is empty after ten.
        if b.charge_mah <= 1e-9 {
            b.charge_mah = 0.0;
            // This was the last message; a flat battery takes the node off the air.
            link.dead = true;
        }
    }
}

pub(super) fn publish_telemetry(
    clock: Res<SimClock>,
    io: Res<Io>,
    mut stats: ResMut<SimStats>,
    mut q: Query<(&DeviceIndex, &mut Publisher, &mut Staged)>,
) {
    for (idx, mut p, mut staged) in &mut q {
        if !p.due {
            continue;
        }
        p.due = false;
        let msg = Telemetry {
            device: idx.0,
            seq: p.seq,
            sim_time: clock.now,
            readings: std::mem::take(&mut staged.readings),
            expected: std::mem::take(&mut staged.expected),
            skew: std::mem::take(&mut staged.skew),
            duplicate: std::mem::take(&mut staged.duplicate),
            hold: std::mem::take(&mut staged.hold),
        };
        p.seq += 1;
        let window = io.0.window.as_deref();
        if let Some(w) = window {
            w.will_hand((msg.sim_time * 1000.0) as u64);
        }
        match io.0.outbox.try_send(msg) {
            Ok(()) => {
                stats.produced += 1;
                if let Some(w) = window {
                    w.handed(idx.0);
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Closed(_)) => {
                if let Some(w) = window {
                    w.unhand();
                }
                stats.dropped_at_source[idx.0 as usize] += 1;
            }
        }
    }
}
