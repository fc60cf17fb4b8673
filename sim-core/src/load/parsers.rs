//! The lean sessions' packet parsers, for the fuzz targets in `fuzz/`: whatever the
//! broker sends, they return an error, never panic.

use crate::load::codec::pub_incoming;
use crate::load::error::LinkError;

pub use crate::load::codec::sub_incoming::{SubIncoming, parse as subscriber};

/// The publishing session's parser (acks, PINGRESP): bytes used and packets found.
pub fn publisher(buf: &[u8]) -> Result<(usize, usize), LinkError> {
    let mut out = Vec::new();
    let used = pub_incoming::parse(buf, &mut out)?;
    Ok((used, out.len()))
}
