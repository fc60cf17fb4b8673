//! The homie convention.

pub(crate) mod decode;
