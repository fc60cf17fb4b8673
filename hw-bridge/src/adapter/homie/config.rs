//! `adapter = "homie"`: the device id, the base topic, and which properties to mirror.

use crate::config::checks::{DeviceCx, span_of};
use crate::error::BridgeError;
use std::collections::BTreeMap;

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &["base", "device_id", "readings", "state"];

/// A Homie device's settings, checked.
pub(crate) struct Homie {
    /// `homie` or `homie/5`.
    pub base: String,
    /// The Homie device id.
    pub device_id: String,
    /// Reading or state name → `node/property`.
    pub names: BTreeMap<String, String>,
}

/// Check a Homie device's keys.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<Homie, BridgeError> {
    let d = cx.raw;
    let device_id = cx.need(&d.device_id, "device_id")?;
    if !homie_id(&device_id) {
        return Err(cx.err(
            span_of(&d.device_id),
            format!(
                "homie `device_id` \"{device_id}\" must be lower-case letters, digits and hyphens"
            ),
        ));
    }
    let base = d
        .base
        .as_ref()
        .map_or_else(|| "homie".to_string(), |b| b.get_ref().clone());
    if base.is_empty() || base.contains(['+', '#']) {
        return Err(cx.err(
            span_of(&d.base),
            format!(
                "homie `base` \"{base}\" is not a topic prefix (\"homie\", or \"homie/5\" for Homie 5)"
            ),
        ));
    }
    let mut names = BTreeMap::new();
    for m in [&d.readings, &d.state].into_iter().flatten() {
        for (k, p) in m.get_ref() {
            match p.split_once('/') {
                Some((n, q)) if homie_id(n) && homie_id(q) => {
                    names.insert(k.clone(), p.clone());
                }
                _ => {
                    return Err(cx.err(
                        m.span(),
                        format!("`{k} = \"{p}\"`: a Homie property is \"node/property\""),
                    ));
                }
            }
        }
    }
    Ok(Homie {
        base,
        device_id,
        names,
    })
}

/// A Homie id: lower-case letters, digits and hyphens, not starting with a hyphen.
fn homie_id(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}
