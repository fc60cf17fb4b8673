//! The MQTT topics the session bridges a serial device on.

/// The MQTT topics a serial device is bridged on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Each line read from the port, as it was read (without its line ending).
    pub telemetry: String,
    /// Retained `online` while the port is open, `offline` when it is not.
    pub status: String,
    /// Payloads published here are written to the port, one line each.
    pub cmd: String,
}

impl Topics {
    /// The topics of device `device` in fleet `fleet`.
    pub fn new(fleet: &str, device: &str) -> Topics {
        let base = format!("twin/{fleet}/{device}/serial");
        Topics {
            telemetry: format!("{base}/telemetry"),
            status: format!("{base}/status"),
            cmd: format!("{base}/cmd"),
        }
    }
}

/// Whether a topic is one the session bridges a serial port on
/// (`twin/{fleet}/{device}/serial/...`): discovery leaves those to the mirror.
pub fn is_bridge_topic(topic: &str) -> bool {
    let levels: Vec<&str> = topic.split('/').collect();
    matches!(
        levels.as_slice(),
        ["twin", _, _, "serial", "telemetry" | "status" | "cmd"]
    )
}
