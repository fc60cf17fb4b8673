//! The packets of two or four bytes: PINGREQ, PINGRESP and DISCONNECT (a fixed header
//! and nothing else), and the acknowledgements of a PUBLISH (a fixed header and a packet
//! id). MQTT 5 allows the acknowledgements without a reason code when it is 0 (§3.4.2.1),
//! so one form serves both versions.

/// PINGREQ: type 12, no flags, remaining length 0 (MQTT 3.1.1 §3.12).
pub const PINGREQ: [u8; 2] = [0xC0, 0x00];
/// PINGRESP: type 13, remaining length 0 (§3.13).
pub const PINGRESP: [u8; 2] = [0xD0, 0x00];
/// DISCONNECT: type 14, remaining length 0 (§3.14).
pub const DISCONNECT: [u8; 2] = [0xE0, 0x00];

/// PUBACK (type 4, §3.4): a subscriber's answer to a QoS 1 PUBLISH.
pub fn puback(pkid: u16) -> [u8; 4] {
    with_id(0x40, pkid)
}

/// PUBREC (type 5, §3.5): a subscriber's first answer to a QoS 2 PUBLISH.
pub fn pubrec(pkid: u16) -> [u8; 4] {
    with_id(0x50, pkid)
}

/// PUBREL (type 6, flags 0b0010 as §3.6.1 requires): a publisher's answer to PUBREC.
pub fn pubrel(pkid: u16) -> [u8; 4] {
    with_id(0x62, pkid)
}

/// PUBCOMP (type 7, §3.7): a subscriber's answer to PUBREL.
pub fn pubcomp(pkid: u16) -> [u8; 4] {
    with_id(0x70, pkid)
}

fn with_id(first: u8, pkid: u16) -> [u8; 4] {
    let [hi, lo] = pkid.to_be_bytes();
    [first, 0x02, hi, lo]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first byte of a fixed header from the spec's table 2.1 (type in the high four
    /// bits) and table 2.2 (flags in the low four).
    fn first(kind: u8, flags: u8) -> u8 {
        kind * 16 + flags
    }

    #[test]
    fn fixed_packets_are_the_spec_bytes() {
        assert_eq!(PINGREQ, [first(12, 0), 0]);
        assert_eq!(PINGRESP, [first(13, 0), 0]);
        assert_eq!(DISCONNECT, [first(14, 0), 0]);
        // Packet id 258 = 0x0102, big-endian (§1.5.2), after a remaining length of 2.
        assert_eq!(puback(258), [first(4, 0), 2, 1, 2]);
        assert_eq!(pubrec(258), [first(5, 0), 2, 1, 2]);
        assert_eq!(pubrel(258), [first(6, 2), 2, 1, 2]);
        assert_eq!(pubcomp(65_535), [first(7, 0), 2, 255, 255]);
    }
}
