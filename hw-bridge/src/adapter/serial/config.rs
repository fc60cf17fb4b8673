//! `adapter = "serial"`: the port, its baud rate, and how the bridged lines are read.

use crate::adapter::json::config::JsonConfig;
use crate::adapter::serial::topics::Topics;
use crate::config::checks::DeviceCx;
use crate::error::BridgeError;

/// The serial adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialConfig {
    /// The serial device, like `/dev/ttyUSB0`.
    pub port: String,
    /// Its baud rate (default 115 200).
    pub baud: u32,
    /// How the mirror reads the bridged lines: the generic JSON adapter on the serial
    /// topics, with the device's `readings` and `state` pointers.
    pub json: JsonConfig,
}

/// Baud rate of a serial device that names none.
pub const DEFAULT_BAUD: u32 = 115_200;

/// The `[[device]]` keys this adapter takes besides the common ones.
pub(crate) const KEYS: &[&str] = &["port", "baud", "readings", "state"];

/// Check a serial device's keys. (That no two devices share a port is checked with the
/// whole file, in `config/mirror.rs`.)
pub(crate) fn parse(cx: &DeviceCx<'_>) -> Result<SerialConfig, BridgeError> {
    let d = cx.raw;
    let port = cx.need(&d.port, "port")?;
    let baud = match &d.baud {
        Some(b) if *b.get_ref() == 0 => {
            return Err(cx.err(b.span(), "`baud` must be greater than zero".into()));
        }
        Some(b) => *b.get_ref(),
        None => DEFAULT_BAUD,
    };
    let topics = Topics::new(cx.fleet, cx.id);
    Ok(SerialConfig {
        port,
        baud,
        json: JsonConfig {
            topic: topics.telemetry,
            id_pointer: None,
            source_id: cx.id.to_string(),
            readings: cx.pointers(&d.readings)?,
            state: cx.pointers(&d.state)?,
            status_topic: Some(topics.status),
            command_topic: Some(topics.cmd),
        },
    })
}
