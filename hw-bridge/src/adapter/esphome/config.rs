//! `adapter = "esphome"`: the node's topic prefix and the readings to take.

use crate::config::checks::{DeviceCx, span_of};
use crate::error::BridgeError;
use std::collections::BTreeMap;

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &["node", "readings"];

/// An ESPHome device's settings, checked.
pub(crate) struct Esphome {
    /// The topic prefix.
    pub node: String,
    /// Reading name → sensor object id.
    pub readings: BTreeMap<String, String>,
}

/// Check an ESPHome device's keys.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<Esphome, BridgeError> {
    let d = cx.raw;
    let node = cx.need(&d.node, "node")?;
    if node.contains(['+', '#']) {
        return Err(cx.err(
            span_of(&d.node),
            "esphome `node` is a topic prefix; it cannot hold '+' or '#'".into(),
        ));
    }
    let readings = d
        .readings
        .as_ref()
        .map(|r| r.get_ref().clone())
        .unwrap_or_default();
    Ok(Esphome { node, readings })
}
