//! `adapter = "tasmota"`: its one key, the device's `%topic%`.

use crate::config::checks::{DeviceCx, span_of};
use crate::error::BridgeError;

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &["topic"];

/// Check a Tasmota device's keys; its Tasmota topic.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<String, BridgeError> {
    let d = cx.raw;
    let topic = cx.need(&d.topic, "topic")?;
    if topic.contains(['/', '+', '#']) {
        return Err(cx.err(
            span_of(&d.topic),
            format!(
                "tasmota `topic` is the device's %topic% (like \"tasmota_5C1A2B\"), not a path: \"{topic}\""
            ),
        ));
    }
    Ok(topic)
}
