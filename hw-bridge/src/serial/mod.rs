//! Serial devices: newline-delimited JSON over a serial port (a USB serial adapter, an
//! ESP32's or a Pico's USB CDC port), bridged into MQTT so their telemetry takes the same
//! path as every other device's.
//!
//! For each serial device the session runs a [`bridge()`] task. It opens the port, splits
//! what it reads into lines ([`LineFramer`]) and publishes each line on
//! `twin/{fleet}/{device}/serial/telemetry`; it writes each payload of
//! `twin/{fleet}/{device}/serial/cmd` to the port as one line; and it keeps a retained
//! `online`/`offline` on `twin/{fleet}/{device}/serial/status`. The mirror reads those
//! topics with the generic JSON adapter, so readings, shadows and the report work as
//! for any JSON device. A port that cannot be opened, or goes away, marks the device
//! offline, and the task tries again with backoff until the mirror stops.
//!
//! `framer.rs` splits bytes into lines and commands into one line each; `bridge.rs` is
//! the task. The settings and topics are the serial convention's, in
//! `adapter/serial/`.

mod bridge;
mod framer;

pub use crate::adapter::serial::topics::{Topics, is_bridge_topic};
pub use bridge::{BridgeEvent, COMMAND_QUEUE, Link, bridge, links};
pub use framer::{Frame, LineFramer, command_line};
