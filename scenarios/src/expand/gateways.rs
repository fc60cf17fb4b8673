//! `gateway` and `devices_per_gateway` on a `[[devices]]` group: which edge gateway each
//! device publishes through. The `n`th gateway of a group holds its devices
//! `(n-1)·k+1 ..= n·k` (k = `devices_per_gateway`) and its id is the template with `{n}`
//! filled; two groups that name the same gateway id share it.

use super::check::{Ctx, Res, expand_n, mqtt_string_problem, placeholders, shown};
use super::fleet::Fleet;
use crate::raw::DeviceGroupTable;
use toml::Spanned;

/// A group's gateways: the id template and how many of its devices each holds.
pub(super) struct Gateways {
    template: String,
    per: usize,
}

impl Gateways {
    /// The gateway of the group's `n`th device (1-based).
    pub(super) fn of(&self, n: usize) -> String {
        expand_n(&self.template, (n - 1) / self.per + 1)
    }
}

/// Check a group's `gateway` and `devices_per_gateway`; `None` when it has no gateway.
pub(super) fn of_group(cx: &Ctx, g: &DeviceGroupTable, count: usize) -> Res<Option<Gateways>> {
    let Some(t) = &g.gateway else {
        if let Some(k) = &g.devices_per_gateway {
            return Err(cx.at(
                k.span(),
                "devices_per_gateway needs gateway = \"<id>\" beside it",
            ));
        }
        return Ok(None);
    };
    placeholders(cx, t, &["n"])?;
    let per = per_gateway(cx, g.devices_per_gateway.as_ref(), count)?;
    let numbered = super::name_template::numbered(t.get_ref());
    if !numbered && per < count {
        return Err(cx.at(
            t.span(),
            format!(
                "devices_per_gateway = {per} spreads {count} devices over {} gateways, but gateway = \"{}\" has no {{n}} to tell them apart",
                count.div_ceil(per),
                t.get_ref()
            ),
        ));
    }
    for n in [1, count.div_ceil(per)] {
        valid_id(cx, t, &expand_n(t.get_ref(), n))?;
    }
    Ok(Some(Gateways {
        template: t.get_ref().clone(),
        per,
    }))
}

/// `devices_per_gateway`: at least 1; without it one gateway holds the whole group.
fn per_gateway(cx: &Ctx, k: Option<&Spanned<i64>>, count: usize) -> Res<usize> {
    let Some(k) = k else { return Ok(count) };
    let v = *k.get_ref();
    if v < 1 {
        return Err(cx.at(
            k.span(),
            format!("devices_per_gateway is {v}; expected at least 1"),
        ));
    }
    Ok((v as usize).min(count))
}

/// A gateway id goes into topics and its client id, as a device id does.
fn valid_id(cx: &Ctx, t: &Spanned<String>, id: &str) -> Res<()> {
    if id.is_empty() || id.contains(['/', '+', '#']) {
        return Err(cx.at(
            t.span(),
            format!(
                "gateway id \"{}\" cannot be used in a topic; expected no '/', '+' or '#'",
                shown(id)
            ),
        ));
    }
    if let Some(problem) = mqtt_string_problem(id) {
        return Err(cx.at(t.span(), format!("gateway id \"{}\" {problem}", shown(id))));
    }
    Ok(())
}

/// A gateway's status topic is the one a device of its id would have, so no gateway
/// may share an id with a device.
pub(super) fn distinct_from_devices(
    cx: &Ctx,
    tables: &[DeviceGroupTable],
    fleet: &Fleet,
) -> Res<()> {
    for d in &fleet.devices {
        let Some(gw) = &d.gateway else { continue };
        if fleet.ids.contains_key(gw) {
            let t = tables[d.group].gateway.as_ref().map_or(0..0, Spanned::span);
            return Err(cx.at(
                t,
                format!("gateway id \"{gw}\" is also a device id; expected gateway ids apart from the devices'"),
            ));
        }
    }
    Ok(())
}
