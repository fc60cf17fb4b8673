//! CONNECT, which opens a session (MQTT 3.1.1 §3.1; MQTT 5 §3.1). The broker's answer,
//! CONNACK, is read in [`super::connack`].

use super::header;
use crate::load::error::LinkError;

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
}
