//! CONNECT, which opens a session, and CONNACK, the broker's answer (MQTT 3.1.1 §3.1,
//! §3.2; MQTT 5 §3.1, §3.2).

use super::header;
use crate::load::error::LinkError;

// Where a refusal is told: `LinkError::Refused` names the code's meaning.
pub use crate::load::error::connack_reason;

/// A CONNECT packet (§3.1; MQTT 5 §3.1 when `v5`): protocol "MQTT" level 4 (or 5),
/// no will, the keep-alive in seconds, the client id, and the user name and password
/// when given. `persistent` asks the broker to keep the session (clean session off);
/// MQTT 5 carries it as the session expiry interval in seconds, 3.1.1 keeps it until
/// the broker's own expiry.
pub fn connect_packet(
    client_id: &str,
    keep_alive_s: u16,
    v5: bool,
    credentials: Option<(&str, &str)>,
    persistent: Option<u32>,
) -> Result<Vec<u8>, LinkError> {
    let string = |s: &str, what: &str| -> Result<Vec<u8>, LinkError> {
        let len = u16::try_from(s.len()).map_err(|_| {
            LinkError::TooLong(format!(
                "{what} of {} bytes is over the MQTT maximum of 65535",
                s.len()
            ))
        })?;
        let mut v = len.to_be_bytes().to_vec();
        v.extend_from_slice(s.as_bytes());
        Ok(v)
    };
    let mut payload = string(client_id, "client id")?;
    // Connect flags: clean session (0x02), then user name (0x80) and password (0x40).
    let mut flags = if persistent.is_some() { 0x00u8 } else { 0x02 };
    if let Some((user, pass)) = credentials {
        flags |= 0xC0;
        payload.extend(string(user, "user name")?);
        payload.extend(string(pass, "password")?);
    }
    let mut var = vec![
        0x00,
        0x04,
        b'M',
        b'Q',
        b'T',
        b'T',
        if v5 { 0x05 } else { 0x04 },
        flags,
    ];
    var.extend_from_slice(&keep_alive_s.to_be_bytes());
    if v5 {
        match persistent {
            // Property length 5: session expiry interval (0x11), four bytes.
            Some(secs) => {
                var.extend_from_slice(&[0x05, 0x11]);
                var.extend_from_slice(&secs.to_be_bytes());
            }
            // Property length 0: no properties.
            None => var.push(0x00),
        }
    }
    let remaining = var.len() + payload.len();
    let mut p = Vec::with_capacity(1 + 4 + remaining);
    p.push(0x10);
    header::encode_remaining_length(remaining, &mut p)?;
    p.extend(var);
    p.extend(payload);
    Ok(p)
}

/// The most a CONNACK body may hold here. MQTT 5 properties (user properties, a reason
/// string) can make it long, but a broker that announces more than this is not one to
/// allocate for.
pub const MAX_CONNACK_BODY: usize = 64 * 1024;

/// The body length of a CONNACK from its fixed header: type 2, then the remaining length,
/// a variable byte integer of one to four bytes (§2.1.4: 2 in 3.1.1; 3 and more in 5,
/// with properties, past 127 once they are long). `Ok(None)` while the length's bytes
/// have not all arrived.
pub fn connack_body_len(head: &[u8]) -> Result<Option<usize>, LinkError> {
    if head.first().is_some_and(|&b| b != 0x20) {
        return Err(LinkError::Protocol(head.to_vec()));
    }
    let Some((len, _)) = header::decode_varint(head.get(1..).unwrap_or_default())? else {
        return Ok(None);
    };
    if !(2..=MAX_CONNACK_BODY).contains(&len) {
        return Err(LinkError::Protocol(head.to_vec()));
    }
    Ok(Some(len))
}

/// A CONNACK body: acknowledge flags (session present), then the return or reason code;
/// `Ok` for code 0.
pub fn connack_result(body: &[u8]) -> Result<(), LinkError> {
    match body.get(1) {
        Some(0) => Ok(()),
        Some(&code) => Err(LinkError::Refused { code }),
        None => Err(LinkError::Protocol(body.to_vec())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_packet_is_byte_exact() {
        // §3.1: fixed header 0x10 + remaining length, "MQTT", level 4, flags, keep-alive,
        // then the client id with its two-byte length.
        let p = connect_packet("ab", 60, false, None, None).unwrap();
        assert_eq!(
            p,
            [
                0x10, 14, // CONNECT, remaining length 10 + 2 + 2
                0x00, 0x04, b'M', b'Q', b'T', b'T', // protocol name
                0x04, // protocol level 3.1.1
                0x02, // clean session; no will, user name or password
                0x00, 0x3C, // keep-alive 60 s
                0x00, 0x02, b'a', b'b', // client id
            ]
        );
        // An empty id (allowed with clean session) and a keep-alive over 255 s.
        assert_eq!(
            connect_packet("", 300, false, None, None).unwrap(),
            [
                0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0x01, 0x2C, 0, 0
            ]
        );
        // A long id needs a two-byte remaining length: 12 + 200 = 212 = 84 + 1·128.
        let long = "x".repeat(200);
        let p = connect_packet(&long, 1, false, None, None).unwrap();
        assert_eq!(&p[..3], [0x10, 0xD4, 0x01]);
        assert_eq!(&p[13..15], [0x00, 200]);
        assert_eq!(p.len(), 3 + 212);
        assert!(connect_packet(&"x".repeat(65_536), 1, false, None, None).is_err());
    }

    #[test]
    fn mqtt5_and_credentials_are_byte_exact() {
        // MQTT 5 §3.1.2: level 5 and a property length (0) after the keep-alive.
        assert_eq!(
            connect_packet("c", 10, true, None, None).unwrap(),
            [
                0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 10, 0, 0, 1, b'c'
            ]
        );
        // §3.1.2.8-9: user name and password flags, then both strings after the id.
        assert_eq!(
            connect_packet("c", 10, false, Some(("u", "pw")), None).unwrap(),
            [
                0x10, 20, 0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 10, 0, 1, b'c', 0, 1, b'u', 0,
                2, b'p', b'w'
            ]
        );
        // A kept session: clean session off; MQTT 5 with a session expiry of 300 s.
        assert_eq!(
            connect_packet("c", 10, false, None, Some(300)).unwrap()[9],
            0x00
        );
        assert_eq!(
            connect_packet("c", 10, true, None, Some(300)).unwrap(),
            [
                0x10, 19, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x00, 0, 10, 5, 0x11, 0, 0, 0x01, 0x2C,
                0, 1, b'c'
            ]
        );
    }

    #[test]
    fn connacks_are_read_by_the_spec() {
        // 3.1.1: 0x20, length 2, flags, code; MQTT 5 adds properties (length 3 and up).
        assert_eq!(connack_body_len(&[0x20, 2]).unwrap(), Some(2));
        assert_eq!(connack_body_len(&[0x20, 3]).unwrap(), Some(3));
        assert!(connack_body_len(&[0x30, 2]).is_err());
        assert!(connack_body_len(&[0x20, 1]).is_err());
        // Past 127 bytes the length takes two bytes: 0x96 0x01 is 22 + 128 = 150.
        assert_eq!(connack_body_len(&[0x20, 0x96]).unwrap(), None);
        assert_eq!(connack_body_len(&[0x20, 0x96, 0x01]).unwrap(), Some(150));
        // A length past the limit (or past four bytes) is refused, never allocated.
        assert!(connack_body_len(&[0x20, 0xff, 0xff, 0x7f]).is_err());
        assert!(connack_body_len(&[0x20, 0x80, 0x80, 0x80, 0x80]).is_err());
        assert!(connack_result(&[0, 0]).is_ok());
        assert!(matches!(
            connack_result(&[0, 5]),
            Err(LinkError::Refused { code: 5 })
        ));
        assert_eq!(connack_reason(5), "not authorized");
        assert_eq!(connack_reason(0x87), "not authorized");
    }
}
