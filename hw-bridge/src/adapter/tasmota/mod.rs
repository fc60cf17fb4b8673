//! The tasmota convention.

pub(crate) mod decode;
