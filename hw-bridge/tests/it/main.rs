//! hw-bridge integration tests: device emulators (a Tasmota plug, an ESPHome node, a
//! Homie device, a MicroPython-style JSON sensor, a Sparkplug B edge node, a plug that
//! announces itself by Home Assistant discovery) against a real Mosquitto, mirrored by
//! the real session; and a serial device played over a pseudo-terminal pair.

mod homeassistant;
mod mirror;
#[cfg(unix)]
mod serial;
mod sparkplug;
