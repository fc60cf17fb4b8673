//! The fixed header every packet starts with: the type and flags byte, then the
//! "remaining length" as a variable byte integer (MQTT 3.1.1 §2.2; MQTT 5 §1.5.5, which
//! also uses it for property lengths).

use crate::load::error::LinkError;

/// The largest remaining length the four-byte encoding holds (§2.2.3).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Append the "remaining length" of a fixed header: 7 bits a byte, least significant
/// first, the high bit set on every byte but the last (§2.2.3).
pub fn encode_remaining_length(n: usize, out: &mut Vec<u8>) -> Result<(), LinkError> {
    if n > MAX_REMAINING_LENGTH {
        return Err(LinkError::TooLong(format!(
            "remaining length {n} is over the MQTT maximum of {MAX_REMAINING_LENGTH}"
        )));
    }
    let mut n = n;
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return Ok(());
        }
    }
}

/// Read a variable byte integer (the remaining length, §2.2.3; MQTT 5 property
/// lengths): `Ok(None)` when `b` ends before it does, else the value and its byte count.
pub fn decode_varint(b: &[u8]) -> Result<Option<(usize, usize)>, LinkError> {
    let (mut value, mut mult) = (0usize, 1usize);
    for (i, &byte) in b.iter().enumerate() {
        if i == 4 {
            return Err(LinkError::Protocol(b[..4].to_vec()));
        }
        value += usize::from(byte & 0x7F) * mult;
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
        mult *= 128;
    }
    if b.len() >= 4 {
        return Err(LinkError::Protocol(b[..4].to_vec()));
    }
    Ok(None)
}

/// The first whole packet at the front of `b`: its fixed header's first byte, where its
/// body starts and how long the body is; `Ok(None)` when it has not all arrived yet.
pub fn frame(b: &[u8]) -> Result<Option<(u8, usize, usize)>, LinkError> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    let Some((len, used)) = decode_varint(&b[1..])? else {
        return Ok(None);
    };
    let start = 1 + used;
    Ok((b.len() >= start + len).then_some((first, start, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rl(n: usize) -> Vec<u8> {
        let mut v = Vec::new();
        encode_remaining_length(n, &mut v).unwrap();
        v
    }

    #[test]
    fn remaining_length_matches_the_spec_table() {
        // MQTT 3.1.1 §2.2.3, table 2.4: the bounds of each encoded size.
        assert_eq!(rl(0), [0x00]);
        assert_eq!(rl(127), [0x7F]);
        assert_eq!(rl(128), [0x80, 0x01]);
        assert_eq!(rl(16_383), [0xFF, 0x7F]);
        assert_eq!(rl(16_384), [0x80, 0x80, 0x01]);
        assert_eq!(rl(2_097_151), [0xFF, 0xFF, 0x7F]);
        assert_eq!(rl(2_097_152), [0x80, 0x80, 0x80, 0x01]);
        assert_eq!(rl(268_435_455), [0xFF, 0xFF, 0xFF, 0x7F]);
        // The spec's worked example: 321 = 65 + 2·128.
        assert_eq!(rl(321), [0xC1, 0x02]);
        assert!(encode_remaining_length(268_435_456, &mut Vec::new()).is_err());
    }

    #[test]
    fn varints_decode_and_frames_wait_for_their_bodies() {
        assert_eq!(decode_varint(&[0xC1, 0x02]).unwrap(), Some((321, 2)));
        assert_eq!(decode_varint(&[0x80]).unwrap(), None);
        assert!(decode_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
        // PUBACK id 7: first byte 0x40, body of 2 from byte 2; one byte short: wait.
        assert_eq!(frame(&[0x40, 2, 0, 7]).unwrap(), Some((0x40, 2, 2)));
        assert_eq!(frame(&[0x40, 2, 0]).unwrap(), None);
        assert_eq!(frame(&[]).unwrap(), None);
    }
}
