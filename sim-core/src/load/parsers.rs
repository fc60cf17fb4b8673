//! The lean sessions' packet parsers, for the fuzz targets in `fuzz/`: whatever the
//! broker sends, they return an error, never panic. CONNACK (with MQTT 5 properties),
//! what a publisher reads, what a subscriber reads.

use crate::load::codec::connack::{self, Connack};
use crate::load::codec::pub_incoming;
use crate::load::error::LinkError;

pub use crate::load::codec::sub_incoming::{SubIncoming, parse as subscriber};

/// The publishing session's parser (acks, PINGRESP): bytes used and packets found.
pub fn publisher(buf: &[u8]) -> Result<(usize, usize), LinkError> {
    let mut out = Vec::new();
    let used = pub_incoming::parse(buf, &mut out)?;
    Ok((used, out.len()))
}

/// The dialer's CONNACK reading, on a whole packet: the fixed header's remaining length
/// (one to four bytes, as the dialer reads it a byte at a time), then the body with
/// every MQTT 5 property. Bytes after the packet are left alone.
pub fn connack(packet: &[u8]) -> Result<Connack, LinkError> {
    let mut head = 2;
    let len = loop {
        let part = packet.get(..head).ok_or(LinkError::Closed)?;
        if let Some(len) = connack::connack_body_len(part)? {
            break len;
        }
        head += 1;
    };
    let body = packet.get(head..head + len).ok_or(LinkError::Closed)?;
    connack::parse(body)
}
