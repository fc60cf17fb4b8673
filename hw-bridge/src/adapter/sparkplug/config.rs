//! `adapter = "sparkplug"`: group, edge node, device, and which metrics to mirror.

use crate::config::checks::{DeviceCx, span_of};
use crate::error::BridgeError;
use std::collections::BTreeMap;
use toml::Spanned;

/// The Sparkplug B adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SparkplugConfig {
    /// The Sparkplug group id.
    pub group: String,
    /// The edge node id.
    pub edge_node: String,
    /// The device behind the edge node; `None` mirrors the edge node's own metrics.
    pub device: Option<String>,
    /// Reading name → Sparkplug metric name; with `state`, empty: every numeric metric
    /// as a reading, under its name lower-cased with '/' and spaces as '_'.
    pub readings: BTreeMap<String, String>,
    /// State name → Sparkplug metric name; with `readings`, empty: every boolean or
    /// string metric as a state, named as above.
    pub state: BTreeMap<String, String>,
}

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &["group", "edge_node", "device", "readings", "state"];

/// Check a Sparkplug device's keys.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<SparkplugConfig, BridgeError> {
    let d = cx.raw;
    let group = cx.need(&d.group, "group")?;
    level(cx, &d.group, "group")?;
    let edge_node = cx.need(&d.edge_node, "edge_node")?;
    level(cx, &d.edge_node, "edge_node")?;
    let device = match &d.device {
        Some(_) => Some(cx.need(&d.device, "device")?),
        None => None,
    };
    level(cx, &d.device, "device")?;
    let readings = metrics(cx, &d.readings)?;
    let state = metrics(cx, &d.state)?;
    if let Some(k) = readings.keys().find(|k| state.contains_key(*k)) {
        return Err(cx.err(
            span_of(&d.state),
            format!("`{k}` is named in both `readings` and `state`"),
        ));
    }
    Ok(SparkplugConfig {
        group,
        edge_node,
        device,
        readings,
        state,
    })
}

/// Sparkplug ids are single topic levels: no '/', '+' or '#' (spec 3.0, 4.1.1).
fn level(cx: &DeviceCx<'_>, v: &Option<Spanned<String>>, key: &str) -> Result<(), BridgeError> {
    match v {
        Some(s) if s.get_ref().contains(['/', '+', '#']) => Err(cx.err(
            s.span(),
            format!(
                "sparkplug `{key}` \"{}\" is one topic level: no '/', '+' or '#'",
                s.get_ref()
            ),
        )),
        _ => Ok(()),
    }
}

/// A name → metric table; every metric named.
fn metrics(
    cx: &DeviceCx<'_>,
    m: &Option<Spanned<BTreeMap<String, String>>>,
) -> Result<BTreeMap<String, String>, BridgeError> {
    let Some(m) = m else {
        return Ok(BTreeMap::new());
    };
    match m.get_ref().iter().find(|(_, metric)| metric.is_empty()) {
        Some((k, _)) => Err(cx.err(
            m.span(),
            format!("`{k} = \"\"`: name the Sparkplug metric, like \"Inputs/Temperature\""),
        )),
        None => Ok(m.get_ref().clone()),
    }
}
