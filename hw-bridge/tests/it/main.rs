//! hw-bridge integration tests: device emulators (a Tasmota plug, an ESPHome node, a
//! Homie device, a MicroPython-style JSON sensor, a Sparkplug B edge node) against a real
//! Mosquitto, mirrored by the real session.

mod mirror;
mod sparkplug;
