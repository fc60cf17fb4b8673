//! What the broker sends a subscribing session: PUBLISH (MQTT 5: properties skipped),
//! PUBREL, SUBACK, DISCONNECT, PINGRESP.

use super::header;
use crate::load::error::LinkError;
use std::ops::Range;

/// A packet the broker sent a subscriber.
#[derive(Debug, PartialEq, Eq)]
pub enum SubIncoming {
    /// A message; `payload` indexes the parsed buffer.
    Publish {
        /// Delivery QoS.
        qos: u8,
        /// Packet id (0 at QoS 0).
        pkid: u16,
        /// Where the payload lies in the buffer given to [`parse`].
        payload: Range<usize>,
    },
    /// PUBREL: answer with PUBCOMP.
    Release {
        /// Packet id.
        pkid: u16,
    },
    /// SUBACK; `ok` false when the broker refused the subscription.
    SubAck {
        /// Every return (reason) code below 0x80.
        ok: bool,
        /// The lowest QoS granted (the codes below 0x80 are granted QoS levels), or the
        /// first failure code when `ok` is false.
        granted: u8,
    },
    /// The broker is closing the session (MQTT 5 DISCONNECT), with its reason code (0
    /// when absent).
    Disconnect {
        /// The reason code.
        reason: u8,
    },
    /// PINGRESP and anything else.
    Other,
}

/// Split complete packets off the front of `buf`; returns how many bytes they took.
/// A packet that breaks the protocol (a PUBLISH with QoS 3, lengths past its end) is an
/// error, never a panic.
pub fn parse(buf: &[u8], v5: bool, out: &mut Vec<SubIncoming>) -> Result<usize, LinkError> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some((first, start, len)) = header::frame(rest)? else {
            return Ok(at);
        };
        let body = at + start..at + start + len;
        let bad = || LinkError::Protocol(rest[..(start + len).min(16)].to_vec());
        let u16_at = |i: usize| -> Result<u16, LinkError> {
            buf.get(i..i + 2)
                .filter(|_| i + 2 <= body.end)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(bad)
        };
        out.push(match first >> 4 {
            3 => {
                let qos = (first >> 1) & 3;
                if qos == 3 {
                    return Err(bad());
                }
                let topic_len = usize::from(u16_at(body.start)?);
                let mut i = body.start + 2 + topic_len;
                let pkid = if qos > 0 {
                    let p = u16_at(i)?;
                    i += 2;
                    p
                } else {
                    0
                };
                if v5 {
                    let (props, used) =
                        header::decode_varint(buf.get(i..body.end).ok_or_else(bad)?)?
                            .ok_or_else(bad)?;
                    i += used + props;
                }
                if i > body.end {
                    return Err(bad());
                }
                SubIncoming::Publish {
                    qos,
                    pkid,
                    payload: i..body.end,
                }
            }
            6 => SubIncoming::Release {
                pkid: u16_at(body.start)?,
            },
            9 => {
                let mut i = body.start + 2;
                if v5 {
                    let (props, used) =
                        header::decode_varint(buf.get(i..body.end).ok_or_else(bad)?)?
                            .ok_or_else(bad)?;
                    i += used + props;
                }
                suback(buf.get(i..body.end).ok_or_else(bad)?)
            }
            14 => SubIncoming::Disconnect {
                reason: buf.get(body).and_then(|b| b.first().copied()).unwrap_or(0),
            },
            _ => SubIncoming::Other,
        });
        at += start + len;
    }
}

/// A SUBACK from its return (reason) codes: `ok` when there are some and all are below
/// 0x80, then granting the lowest of them; else the first failure code.
fn suback(codes: &[u8]) -> SubIncoming {
    let ok = !codes.is_empty() && codes.iter().all(|c| *c < 0x80);
    let granted = if ok {
        codes.iter().copied().min().unwrap_or(0)
    } else {
        codes.iter().copied().find(|c| *c >= 0x80).unwrap_or(0x80)
    };
    SubIncoming::SubAck { ok, granted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_parse_across_reads_and_point_at_their_payloads() {
        let mut out = Vec::new();
        // SUBACK (granted 2), PUBLISH QoS 2 id 5 on "t" with "hi", PUBREL 5, PUBLISH QoS 0
        // on "t" with "x", then the first two bytes of another PUBLISH.
        let bytes = [
            0x90, 3, 0, 1, 2, 0x34, 7, 0, 1, b't', 0, 5, b'h', b'i', 0x62, 2, 0, 5, 0x30, 4, 0, 1,
            b't', b'x', 0x32, 9,
        ];
        let used = parse(&bytes, false, &mut out).unwrap();
        assert_eq!(used, bytes.len() - 2);
        assert_eq!(
            out,
            [
                SubIncoming::SubAck {
                    ok: true,
                    granted: 2
                },
                SubIncoming::Publish {
                    qos: 2,
                    pkid: 5,
                    payload: 12..14
                },
                SubIncoming::Release { pkid: 5 },
                SubIncoming::Publish {
                    qos: 0,
                    pkid: 0,
                    payload: 23..24
                },
            ]
        );
        assert_eq!(&bytes[12..14], b"hi");
    }

    #[test]
    fn mqtt5_properties_are_skipped_and_refusals_seen() {
        let mut out = Vec::new();
        // MQTT 5 PUBLISH QoS 1 id 2 on "t" with 3 bytes of properties (payload format
        // indicator 1, then a 1-byte junk property list tail), payload "p".
        let bytes = [0x32, 10, 0, 1, b't', 0, 2, 3, 0x01, 1, 0x00, b'p'];
        parse(&bytes, true, &mut out).unwrap();
        assert_eq!(
            out,
            [SubIncoming::Publish {
                qos: 1,
                pkid: 2,
                payload: 11..12
            }]
        );
        // MQTT 5 SUBACK with "not authorized" (0x87); 3.1.1 SUBACK with failure (0x80).
        out.clear();
        parse(&[0x90, 4, 0, 1, 0, 0x87], true, &mut out).unwrap();
        parse(&[0x90, 3, 0, 1, 0x80], false, &mut out).unwrap();
        assert_eq!(
            out,
            [
                SubIncoming::SubAck {
                    ok: false,
                    granted: 0x87
                },
                SubIncoming::SubAck {
                    ok: false,
                    granted: 0x80
                }
            ]
        );
        // A SUBACK granting QoS 1 to a QoS 2 subscription: a downgrade, read as such;
        // an MQTT 5 DISCONNECT "shared subscriptions not supported" (0x9E).
        out.clear();
        parse(&[0x90, 4, 0, 1, 0, 0x01, 0xE0, 1, 0x9E], true, &mut out).unwrap();
        assert_eq!(
            out,
            [
                SubIncoming::SubAck {
                    ok: true,
                    granted: 1
                },
                SubIncoming::Disconnect { reason: 0x9E }
            ]
        );
    }

    #[test]
    fn broken_packets_are_errors_not_panics() {
        let mut out = Vec::new();
        // QoS 3; a topic length past the packet; no property length where MQTT 5 needs
        // one; a property length past the packet; a remaining length of five bytes. The
        // first four are whole packets (all their remaining length is there) and the
        // last can never become valid, so each must be refused, not waited on, and
        // nothing of it handed on.
        for bytes in [
            &[0x36, 2, 0, 0][..],
            &[0x30, 2, 0, 9],
            &[0x32, 5, 0, 1, b't', 0, 1],
            &[0x32, 6, 0, 1, b't', 0, 1, 9],
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 1],
        ] {
            let r = parse(bytes, true, &mut out);
            assert!(
                matches!(r, Err(LinkError::Protocol(_))),
                "{bytes:?} gave {r:?}"
            );
            assert!(out.is_empty(), "{bytes:?} gave {out:?}");
        }
    }
}
