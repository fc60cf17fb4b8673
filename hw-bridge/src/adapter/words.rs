//! Words and text every convention reads the same way: UTF-8 payloads, switch words,
//! command text, online/offline spellings.

use crate::error::BridgeError;
use serde_json::Value;

/// A payload as UTF-8 text, or the reason it is not.
pub(crate) fn text(payload: &[u8]) -> Result<&str, BridgeError> {
    std::str::from_utf8(payload)
        .map_err(|e| BridgeError::Malformed(format!("not UTF-8 text ({e})")))
}

/// `ON`/`OFF`/`TOGGLE` for a switch command.
pub(crate) fn switch_word(value: &Value) -> String {
    match crate::value::normalise(value) {
        Value::Bool(true) => "ON".into(),
        Value::Bool(false) => "OFF".into(),
        Value::Number(n) if n.as_f64() == Some(1.0) => "ON".into(),
        Value::Number(n) if n.as_f64() == Some(0.0) => "OFF".into(),
        Value::String(s) => s.to_ascii_uppercase(),
        other => other.to_string(),
    }
}

/// A value as command text: switch words for booleans, numbers and strings as written.
pub(crate) fn value_text(value: &Value) -> String {
    match value {
        Value::Bool(_) => switch_word(value),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `online`/`offline` in the spellings firmware uses.
pub(crate) fn online_word(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "online" | "on" | "true" | "1" | "connected" | "ready" => Some(true),
        "offline" | "off" | "false" | "0" | "disconnected" | "lost" => Some(false),
        _ => None,
    }
}
