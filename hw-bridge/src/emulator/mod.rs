//! Device emulators for tests: a Tasmota plug with a DHT22 (AM2301), an ESPHome node, a
//! Homie 4 device, a Sparkplug B edge node with one device, a plug that announces itself
//! by Home Assistant MQTT discovery, and a MicroPython-style generic JSON sensor, each a
//! real MQTT session that publishes the way its firmware does, obeys its native
//! commands, and leaves a last will. Killing one drops its
//! connection without a goodbye, so the broker fires the will.
//!
//! Each emulator lives in its convention's folder under `adapter/` (`emulator.rs`);
//! the session loop they share is in `firmware.rs`. Built with the `test-support`
//! feature only.

pub(crate) mod firmware;

pub use crate::adapter::esphome::emulator::esphome_node;
pub use crate::adapter::homeassistant::emulator::homeassistant_device;
pub use crate::adapter::homie::emulator::homie_device;
pub use crate::adapter::json::emulator::json_sensor;
pub use crate::adapter::sparkplug::emulator::{sparkplug_death, sparkplug_node};
pub use crate::adapter::tasmota::emulator::tasmota_plug;
pub use firmware::{Curve, Emulator, Log};
