//! The esphome convention.

pub(crate) mod decode;
