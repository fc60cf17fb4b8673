//! PUBLISH (MQTT 3.1.1 §3.3; MQTT 5 §3.3 with an empty property list).

use super::header;
use crate::load::error::LinkError;

/// The DUP flag of a PUBLISH written again after a lost connection (§3.3.1.1).
pub const DUP: u8 = 0x08;

/// Append a PUBLISH (MQTT 3.1.1 §3.3, MQTT 5 §3.3 with an empty property list).
pub fn publish_packet(
    out: &mut Vec<u8>,
    topic: &[u8],
    qos: u8,
    retain: bool,
    pkid: u16,
    v5: bool,
    payload: &[u8],
) -> Result<(), LinkError> {
    let remaining = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + usize::from(v5) + payload.len();
    out.push(0x30 | (qos << 1) | u8::from(retain));
    header::encode_remaining_length(remaining, out)?;
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic);
    if qos > 0 {
        out.extend_from_slice(&pkid.to_be_bytes());
    }
    if v5 {
        out.push(0);
    }
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_packets_are_byte_exact() {
        let mut b = Vec::new();
        publish_packet(&mut b, b"a/b", 0, false, 0, false, b"hi").unwrap();
        // §3.3: 0x30, remaining 2 + 3 + 2, topic, payload (no packet id at QoS 0).
        assert_eq!(b, [0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i']);
        b.clear();
        publish_packet(&mut b, b"t", 1, true, 0x0102, false, b"x").unwrap();
        assert_eq!(b, [0x33, 6, 0, 1, b't', 0x01, 0x02, b'x']);
        b.clear();
        // MQTT 5: a property length (0) after the packet id.
        publish_packet(&mut b, b"t", 2, false, 7, true, b"").unwrap();
        assert_eq!(b, [0x34, 6, 0, 1, b't', 0, 7, 0]);
    }
}
