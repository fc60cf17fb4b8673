//! The MQTT version a session speaks.

use crate::load::error::LoadError;

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// MQTT 3.1.1.
    #[default]
    V311,
    /// MQTT 5.
    V5,
}

impl Protocol {
    /// Parse `3`, `3.1.1`, `4`, `5`.
    pub fn parse(s: &str) -> Result<Protocol, LoadError> {
        match s {
            "3" | "3.1.1" | "4" | "311" => Ok(Protocol::V311),
            "5" | "5.0" => Ok(Protocol::V5),
            _ => Err(LoadError::Protocol(s.to_string())),
        }
    }

    /// MQTT 5 framing (property lengths in CONNECT, PUBLISH, SUBSCRIBE, ...).
    pub fn is_v5(self) -> bool {
        self == Protocol::V5
    }
}
