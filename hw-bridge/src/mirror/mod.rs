//! The mirror's state machine: every message from a device goes through its adapter into
//! the device's readings, online state and shadow, and through sim-core's analytics core
//! beside its twin's prediction. No I/O and no clock: [`Mirror::handle`] and
//! [`Mirror::tick`] take the time and return what to publish.
//!
//! `machine.rs` holds the [`Mirror`] and routes each message and tick; `events.rs` is
//! what a device's events do to its state; `shadow_update.rs` the desired-state side;
//! `report.rs` the report; `device.rs` what is kept per device. The `impl Mirror` is
//! split across them by concern.

mod device;
mod events;
mod machine;
mod report;
mod shadow_update;

pub use machine::{Mirror, Publish};
pub use shadow_update::update_payload;

#[cfg(test)]
#[path = "mirror_tests.rs"]
mod tests;
