//! What the broker sends a publishing session: PUBACK, PUBREC, PUBCOMP (MQTT 5: with
//! an optional reason code), DISCONNECT (MQTT 5: with a reason code), PINGRESP. Which
//! acknowledgement came is kept: a PUBACK for a QoS 2 publish is a downgrade, not a
//! completion (the session checks).

use super::header;
use crate::load::error::LinkError;

/// A packet the broker sent a publisher.
#[derive(Debug, PartialEq, Eq)]
pub enum PubIncoming {
    /// PUBACK (`qos` 1: QoS 1 done) or PUBCOMP (`qos` 2: QoS 2 done).
    Done {
        /// Packet id.
        pkid: u16,
        /// The QoS this acknowledgement ends: 1 for PUBACK, 2 for PUBCOMP.
        qos: u8,
        /// The MQTT 5 reason code (0 when absent); 0x80 and above is a failure.
        reason: u8,
    },
    /// PUBREC: answer with PUBREL.
    Received {
        /// Packet id.
        pkid: u16,
        /// The MQTT 5 reason code (0 when absent); 0x80 and above is a failure.
        reason: u8,
    },
    /// The broker is closing the session (MQTT 5 DISCONNECT), with its reason code (0,
    /// normal disconnection, when absent).
    Disconnect {
        /// The reason code.
        reason: u8,
    },
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
        let reason = body.get(2).copied().unwrap_or(0);
        out.push(match (first >> 4, pkid()) {
            (4, Some(pkid)) => PubIncoming::Done {
                pkid,
                qos: 1,
                reason,
            },
            (7, Some(pkid)) => PubIncoming::Done {
                pkid,
                qos: 2,
                reason,
            },
            (5, Some(pkid)) => PubIncoming::Received { pkid, reason },
            (14, _) => PubIncoming::Disconnect {
                reason: body.first().copied().unwrap_or(0),
            },
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
                PubIncoming::Done {
                    pkid: 1,
                    qos: 1,
                    reason: 0
                },
                PubIncoming::Received { pkid: 2, reason: 0 },
                PubIncoming::Done {
                    pkid: 3,
                    qos: 2,
                    reason: 0
                },
                PubIncoming::Other,
            ]
        );
        // An MQTT 5 PUBACK with "not authorized" (0x87) is a failure; a DISCONNECT
        // with "QoS not supported" (0x9B), and one with no reason code (normal).
        out.clear();
        parse(&[0x40, 3, 0, 9, 0x87, 0xE0, 1, 0x9B, 0xE0, 0], &mut out).unwrap();
        assert_eq!(
            out,
            [
                PubIncoming::Done {
                    pkid: 9,
                    qos: 1,
                    reason: 0x87
                },
                PubIncoming::Disconnect { reason: 0x9B },
                PubIncoming::Disconnect { reason: 0 },
            ]
        );
    }
}
