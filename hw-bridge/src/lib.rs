//! twinfleet's bridge to physical devices.
//!
//! Real firmware publishes in its own conventions; an [`adapter`] turns each convention
//! (Tasmota, ESPHome, Homie, Sparkplug B, Home Assistant MQTT discovery, generic JSON)
//! into the same [`adapter::Event`]s and turns a desired state back into the device's
//! native command. [`mirror::Mirror`] keeps, per device, its readings, online state and a
//! desired/reported [`shadow`], feeds the readings through sim-core's analytics core
//! beside a [`twin`] model's prediction, and raises an alert when the device disagrees
//! with its twin. [`session`] runs it over MQTT and bridges JSON lines from serial ports
//! into MQTT with [`serial`], [`discover`] writes a starter configuration from what a
//! broker carries, and [`set`] is the client side of a shadow update.
//!
//! The state machine ([`mirror::Mirror`]) does no I/O and has no clock of its own: tests
//! drive it message by message with the time they choose.

pub mod adapter;
pub mod config;
pub mod discover;
#[cfg(feature = "test-support")]
pub mod emulator;
pub mod error;
pub mod mirror;
pub mod report;
pub mod serial;
pub mod session;
pub mod set;
pub mod shadow;
pub mod twin;
pub mod value;

pub use config::MirrorConfig;
pub use error::BridgeError;
