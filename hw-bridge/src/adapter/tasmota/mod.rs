//! The tasmota convention.

pub(crate) mod config;
pub(crate) mod decode;
pub(crate) mod discover;
#[cfg(feature = "test-support")]
pub(crate) mod emulator;
