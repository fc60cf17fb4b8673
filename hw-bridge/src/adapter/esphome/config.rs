//! `adapter = "esphome"`: the node's topic prefix and the readings to take.

use crate::config::checks::{DeviceCx, span_of};
use crate::error::BridgeError;
use std::collections::BTreeMap;

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &["node", "readings"];

/// Check an ESPHome device's keys: its `node` and its reading name → sensor object id.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<(String, BTreeMap<String, String>), BridgeError> {
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
    Ok((node, readings))
}
