//! What the broker sends a publishing session: PUBACK, PUBREC, PUBCOMP (MQTT 5: with
//! an optional reason code), DISCONNECT, PINGRESP.

use super::header;
use crate::load::error::LinkError;

/// A packet the broker sent a publisher.
#[derive(Debug, PartialEq, Eq)]
pub enum PubIncoming {
    /// PUBACK (QoS 1 done) or PUBCOMP (QoS 2 done); `ok` false for an MQTT 5 failure code.
    Done {
        /// Packet id.
        pkid: u16,
        /// Not an MQTT 5 failure code.
        ok: bool,
    },
    /// PUBREC: answer with PUBREL.
    Received {
        /// Packet id.
        pkid: u16,
        /// Not an MQTT 5 failure code.
        ok: bool,
    },
    /// The broker is closing the session (MQTT 5 DISCONNECT).
    Disconnect,
    /// PINGRESP and anything else.
    Other,
}

/// Split complete packets off the front of `buf`; returns how many bytes they took.
pub fn parse(buf: &[u8], out: &mut Vec<PubIncoming>) -> Result<usize, LinkError> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some((first, start, len)) = header::frame(rest)? else {
            return Ok(at);
        };
        let body = &rest[start..start + len];
        let pkid = || body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        // MQTT 5 acknowledgements may carry a reason code; 0x80 and above is a failure.
        let ok = body.get(2).is_none_or(|r| *r < 0x80);
        out.push(match (first >> 4, pkid()) {
            (4 | 7, Some(pkid)) => PubIncoming::Done { pkid, ok },
            (5, Some(pkid)) => PubIncoming::Received { pkid, ok },
            (14, _) => PubIncoming::Disconnect,
            _ => PubIncoming::Other,
        });
        at += start + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_parse_across_reads() {
        let mut out = Vec::new();
        // PUBACK 1, PUBREC 2 (MQTT 5, success code), PUBCOMP 3, PINGRESP, half a PUBACK.
        let bytes = [
            0x40, 2, 0, 1, 0x50, 3, 0, 2, 0x00, 0x70, 2, 0, 3, 0xD0, 0, 0x40, 2, 0,
        ];
        let used = parse(&bytes, &mut out).unwrap();
        assert_eq!(used, bytes.len() - 3);
        assert_eq!(
            out,
            [
                PubIncoming::Done { pkid: 1, ok: true },
                PubIncoming::Received { pkid: 2, ok: true },
                PubIncoming::Done { pkid: 3, ok: true },
                PubIncoming::Other,
            ]
        );
        // An MQTT 5 PUBACK with "not authorized" (0x87) is a failure.
        out.clear();
        parse(&[0x40, 3, 0, 9, 0x87], &mut out).unwrap();
        assert_eq!(out, [PubIncoming::Done { pkid: 9, ok: false }]);
    }
}
