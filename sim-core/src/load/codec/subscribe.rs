//! SUBSCRIBE (MQTT 3.1.1 §3.8; MQTT 5 §3.8). SUBACK is read in
//! [`super::sub_incoming`].

use super::header;
use crate::load::error::LinkError;

/// A SUBSCRIBE for one filter (MQTT 3.1.1 §3.8; MQTT 5 §3.8 with no properties and
/// only the QoS set in the subscription options).
pub fn subscribe_packet(pkid: u16, filter: &str, qos: u8, v5: bool) -> Result<Vec<u8>, LinkError> {
    let len = u16::try_from(filter.len()).map_err(|_| {
        LinkError::TooLong(format!(
            "topic filter of {} bytes is over the MQTT maximum of 65535",
            filter.len()
        ))
    })?;
    let remaining = 2 + usize::from(v5) + 2 + filter.len() + 1;
    let mut p = Vec::with_capacity(remaining + 5);
    p.push(0x82);
    header::encode_remaining_length(remaining, &mut p)?;
    p.extend_from_slice(&pkid.to_be_bytes());
    if v5 {
        p.push(0);
    }
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(filter.as_bytes());
    p.push(qos.min(2));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_packets_are_byte_exact() {
        // §3.8: 0x82, remaining 2 + 2 + 3 + 1, packet id, filter, requested QoS.
        assert_eq!(
            subscribe_packet(1, "a/#", 2, false).unwrap(),
            [0x82, 8, 0, 1, 0, 3, b'a', b'/', b'#', 2]
        );
        // MQTT 5: a property length (0) after the packet id.
        assert_eq!(
            subscribe_packet(1, "t", 1, true).unwrap(),
            [0x82, 7, 0, 1, 0, 0, 1, b't', 1]
        );
    }
}
