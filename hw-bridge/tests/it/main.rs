//! hw-bridge integration tests: device emulators (a Tasmota plug, an ESPHome node, a
//! MicroPython-style JSON sensor) against a real Mosquitto, mirrored by the real session.

mod mirror;
