//! `twin mirror --discover`: listen to everything a broker carries for a while, recognise
//! the conventions devices follow (Tasmota, ESPHome, Homie, Sparkplug B, Home Assistant
//! MQTT discovery, generic JSON), and write a starter configuration that `twin mirror`
//! accepts as it is.
//!
//! [`listen()`] collects the traffic; [`starter_config`] runs each convention's own
//! `discover.rs` (in its folder under `adapter/`) over it, in an order that lets the
//! specific conventions claim their topics before generic JSON looks at what is left.

pub(crate) mod listen;
pub(crate) mod scan;
mod starter;

pub use listen::{KEEP, Seen, listen};
pub use starter::starter_config;
