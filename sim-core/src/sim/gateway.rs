//! Faults that strike a gateway (`on = "gateway"`): an `offline` or `battery_death` of
//! the device's gateway takes every device behind it off line (or kills them), each with
//! its own ground-truth record, and drops the gateway's session so its last will fires.
//! When the fault's time is up each device connects again as after its own `offline`
//! ([`end_faults`](super::fault::end_faults)); the first one brings the gateway back.

use super::fault::{ActiveFault, Faults};
use super::io::{Io, SessionCommand};
use super::resources::{DeviceEntities, SimClock};
use crate::fault::{FaultRecord, GroundTruth};
use crate::model::{DeviceIndex, Link};
use bevy_ecs::prelude::*;
use scenarios::{FaultKind, FaultSpec, Scenario};

/// Which gateway each device publishes through, and the devices of each.
#[derive(Resource, Debug, Clone, Default)]
pub(crate) struct Gateways {
    /// Per device, by fleet index: its gateway's place in the scenario's gateways.
    of: Vec<Option<u32>>,
    /// Per gateway: fleet indices of its devices.
    members: Vec<Vec<usize>>,
    /// Whether any fault of the scenario may strike a gateway: when none can, the
    /// system does not look at the fleet at all.
    struck_ever: bool,
}

impl Gateways {
    /// The scenario's gateways.
    pub(crate) fn of(s: &Scenario) -> Gateways {
        let in_events = s
            .events
            .iter()
            .any(|e| matches!(&e.action, scenarios::EventAction::Fault(f) if f.on_gateway));
        let in_groups = s
            .devices
            .iter()
            .any(|d| d.faults.iter().any(|f| f.on_gateway));
        let mut g = Gateways {
            of: vec![None; s.devices.len()],
            members: Vec::new(),
            struck_ever: in_events || in_groups,
        };
        for (k, gw) in s.gateways().into_iter().enumerate() {
            for &d in &gw.devices {
                g.of[d] = Some(k as u32);
            }
            g.members.push(gw.devices);
        }
        g
    }
}

/// Spread this step's gateway strikes over the devices of each struck gateway.
pub(crate) fn spread_gateway_faults(
    clock: Res<SimClock>,
    io: Res<Io>,
    gateways: Res<Gateways>,
    entities: Res<DeviceEntities>,
    mut truth: ResMut<GroundTruth>,
    mut q: Query<(&DeviceIndex, &mut Faults, &mut Link)>,
) {
    if !gateways.struck_ever {
        return;
    }
    let mut strikes = Vec::new();
    for (idx, mut faults, _) in &mut q {
        if !faults.gateway_strikes.is_empty() {
            strikes.extend(faults.gateway_strikes.drain(..).map(|s| (idx.0, s)));
        }
    }
    for (device, spec) in strikes {
        let Some(g) = gateways.of.get(device as usize).copied().flatten() else {
            continue;
        };
        let mut struck = false;
        for &m in &gateways.members[g as usize] {
            let Some(Ok((_, mut faults, mut link))) = entities.0.get(m).map(|&e| q.get_mut(e))
            else {
                continue;
            };
            struck |= strike(
                &spec,
                clock.now,
                m as u32,
                &mut faults,
                &mut link,
                &mut truth,
            );
        }
        if struck {
            io.session(SessionCommand::GatewayDown(g));
        }
    }
}

/// The gateway's fault on one of its devices; whether it struck (a dead device, or one
/// already off line, is left as it is).
fn strike(
    spec: &FaultSpec,
    now: f64,
    device: u32,
    faults: &mut Faults,
    link: &mut Link,
    truth: &mut GroundTruth,
) -> bool {
    if link.dead || !link.online {
        return false;
    }
    let end = if spec.duration > 0.0 {
        now + spec.duration
    } else {
        f64::INFINITY
    };
    match spec.kind {
        FaultKind::BatteryDeath => link.dead = true,
        FaultKind::Offline => {
            link.online = false;
            faults.active.push(ActiveFault {
                spec: spec.clone(),
                start: now,
                end,
                held: None,
            });
        }
        _ => return false,
    }
    truth.0.push(FaultRecord {
        device_index: device,
        device: String::new(),
        sensor: None,
        kind: spec.kind.name().to_string(),
        start: now,
        end: if spec.kind == FaultKind::BatteryDeath {
            f64::INFINITY
        } else {
            end
        },
    });
    true
}
