//! The json convention.

pub(crate) mod decode;
