//! Home Assistant MQTT discovery: a device that announced its entities under
//! `homeassistant/.../config`, each read from its `state_topic` through its
//! `value_template` (`crate::adapter::template`).

pub mod announce;
pub(crate) mod announced;
pub(crate) mod config;
pub(crate) mod decode;
pub(crate) mod discover;
#[cfg(feature = "test-support")]
pub(crate) mod emulator;
pub(crate) mod entity;
