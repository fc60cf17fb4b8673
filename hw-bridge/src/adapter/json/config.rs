//! `adapter = "json"`: its settings and their checks.

use crate::config::checks::DeviceCx;
use crate::error::BridgeError;
use std::collections::BTreeMap;

/// The generic JSON adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonConfig {
    /// Topic (or filter with `+`) the telemetry arrives on.
    pub topic: String,
    /// JSON pointer to the device id inside the payload, for topics several devices share.
    pub id_pointer: Option<String>,
    /// The id the payload carries at `id_pointer` (default: the device id).
    pub source_id: String,
    /// Reading name → JSON pointer; empty: every top-level number.
    pub readings: BTreeMap<String, String>,
    /// Reported state key → JSON pointer (a relay's `/relay`).
    pub state: BTreeMap<String, String>,
    /// Where `online`/`offline` (last will) arrives.
    pub status_topic: Option<String>,
    /// Where commands `{"set":{key:value}}` go.
    pub command_topic: Option<String>,
}

/// The `[[device]]` keys this adapter takes besides `id`, `adapter`, `model`,
/// `publish_every` and `twin` (`source_id` too, which is not checked elsewhere).
pub(crate) const KEYS: &[&str] = &[
    "topic",
    "id_pointer",
    "source_id",
    "readings",
    "state",
    "status_topic",
    "command_topic",
];

/// Check a json device's keys.
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<JsonConfig, BridgeError> {
    let d = cx.raw;
    let topic = cx.need(&d.topic, "topic")?;
    cx.filter(&d.topic, "topic")?;
    if let Some(p) = &d.id_pointer
        && !p.get_ref().starts_with('/')
    {
        return Err(cx.err(
            p.span(),
            "`id_pointer` is a JSON pointer and starts with '/'".into(),
        ));
    }
    Ok(JsonConfig {
        topic,
        id_pointer: d.id_pointer.as_ref().map(|p| p.get_ref().clone()),
        source_id: d.source_id.clone().unwrap_or_else(|| cx.id.to_string()),
        readings: cx.pointers(&d.readings)?,
        state: cx.pointers(&d.state)?,
        status_topic: cx.filter(&d.status_topic, "status_topic")?,
        command_topic: cx.plain(&d.command_topic, "command_topic")?,
    })
}
