//! The homeassistant convention.

pub(crate) mod decode;
