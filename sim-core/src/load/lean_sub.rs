//! The counting subscriber of `twin load pub`, without a client library.
//!
//! At QoS 2 every delivered message costs the subscriber a PUBREC and a PUBCOMP. A
//! client library writes each as its own packet and hands each PUBLISH over as an
//! event; at 10,000 msg/s that is 20,000 writes a second the broker must also read one
//! by one. Here the session reads what the socket holds, hands every PUBLISH in it to
//! the caller in one batch, and answers them all in one write. MQTT 3.1.1 and 5, QoS 0,
//! 1 and 2, TCP or TLS, reconnecting (and subscribing again) with backoff.

use super::idle::{self, Dial, IdleError};
use crate::transport::backoff::Backoff;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// One subscribing session.
pub(crate) struct SubSession {
    /// Where it connects, again after a lost connection.
    pub dial: Dial,
    /// MQTT 5 framing.
    pub v5: bool,
    /// SUBSCRIBE, sent after every CONNACK.
    pub subscribe: Vec<u8>,
    /// Keep-alive: a PINGREQ when nothing was written for half of it.
    pub keep_alive: Duration,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Told when this session's subscription starts and ends.
    pub gate: Option<Arc<SubGate>>,
}

/// Whether all of a run's counting subscribers are subscribed: publishers hold their
/// messages while one is away.
pub(crate) struct SubGate {
    /// Subscribers in the run.
    pub need: usize,
    /// Subscribers subscribed now.
    pub up: AtomicUsize,
    /// `true` while all are.
    pub tx: watch::Sender<bool>,
}

impl SubGate {
    fn subscribed(&self) {
        if self.up.fetch_add(1, Ordering::AcqRel) + 1 == self.need {
            self.tx.send_replace(true);
        }
    }

    fn lost(&self) {
        if self.up.fetch_sub(1, Ordering::AcqRel) == self.need {
            self.tx.send_replace(false);
        }
    }
}

/// What a subscribing session saw of its connection.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SubOutcome {
    /// Connections made after the first.
    pub reconnects: u64,
}

/// A SUBSCRIBE for one filter (MQTT 3.1.1 §3.8; MQTT 5 §3.8 with no properties and
/// only the QoS set in the subscription options).
pub fn subscribe_packet(pkid: u16, filter: &str, qos: u8, v5: bool) -> Result<Vec<u8>, IdleError> {
    let len = u16::try_from(filter.len()).map_err(|_| {
        IdleError::TooLong(format!(
            "topic filter of {} bytes is over the MQTT maximum of 65535",
            filter.len()
        ))
    })?;
    let remaining = 2 + usize::from(v5) + 2 + filter.len() + 1;
    let mut p = Vec::with_capacity(remaining + 5);
    p.push(0x82);
    idle::encode_remaining_length(remaining, &mut p)?;
    p.extend_from_slice(&pkid.to_be_bytes());
    if v5 {
        p.push(0);
    }
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(filter.as_bytes());
    p.push(qos.min(2));
    Ok(p)
}

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
    },
    /// The broker is closing the session (MQTT 5 DISCONNECT).
    Disconnect,
    /// PINGRESP and anything else.
    Other,
}

/// Split complete packets off the front of `buf`; returns how many bytes they took.
/// A packet that breaks the protocol (a PUBLISH with QoS 3, lengths past its end) is an
/// error, never a panic.
pub fn parse(buf: &[u8], v5: bool, out: &mut Vec<SubIncoming>) -> Result<usize, IdleError> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some((first, start, len)) = idle::frame(rest)? else {
            return Ok(at);
        };
        let body = at + start..at + start + len;
        let bad = || IdleError::Protocol(rest[..(start + len).min(16)].to_vec());
        let u16_at = |i: usize| -> Result<u16, IdleError> {
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
                    let (props, used) = idle::decode_varint(buf.get(i..body.end).ok_or_else(bad)?)?
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
                    let (props, used) = idle::decode_varint(buf.get(i..body.end).ok_or_else(bad)?)?
                        .ok_or_else(bad)?;
                    i += used + props;
                }
                let codes = buf.get(i..body.end).ok_or_else(bad)?;
                SubIncoming::SubAck {
                    ok: !codes.is_empty() && codes.iter().all(|c| *c < 0x80),
                }
            }
            14 => SubIncoming::Disconnect,
            _ => SubIncoming::Other,
        });
        at += start + len;
    }
}

/// The payloads of one read's PUBLISH packets.
pub(crate) struct Batch<'a> {
    buf: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Batch<'a> {
    /// Each payload, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.buf[r.clone()])
    }
}

/// Why a subscriber gave up.
#[derive(Debug)]
pub(crate) enum SubFailure {
    /// The broker refused the connection or the subscription, or TLS failed.
    Refused(String),
}

impl SubSession {
    /// Connect, subscribe, and hand every message to `handle` (a batch per read) until
    /// `release` turns true or its sender is dropped. `ready` gets `Ok` at the first
    /// SUBACK, or why the broker will not have this subscriber.
    pub async fn run<F>(
        self,
        ready: oneshot::Sender<Result<(), SubFailure>>,
        mut release: watch::Receiver<bool>,
        mut handle: F,
    ) -> SubOutcome
    where
        F: FnMut(Batch<'_>),
    {
        let mut ready = Some(ready);
        let mut outcome = SubOutcome::default();
        let mut connected_once = false;
        let mut backoff = Backoff::default();
        let mut rbuf = vec![0u8; 64 * 1024];
        let mut wbuf: Vec<u8> = Vec::with_capacity(4096);
        let mut incoming = Vec::new();
        let mut ranges = Vec::new();
        // Subscribed on the current connection (the gate counts it).
        let mut subscribed = false;
        // Released: set, or nobody left to set it.
        let released = |r: &watch::Receiver<bool>| *r.borrow() || r.has_changed().is_err();
        'session: loop {
            if subscribed {
                subscribed = false;
                if let Some(g) = &self.gate {
                    g.lost();
                }
            }
            if released(&release) {
                return outcome;
            }
            let opened = tokio::time::timeout(self.connect_timeout, self.dial.open()).await;
            let mut stream = match opened {
                Ok(Ok(s)) => s,
                Ok(Err(e @ (IdleError::Refused { .. } | IdleError::Tls(_)))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(SubFailure::Refused(e.to_string())));
                        return outcome;
                    }
                    // Refused after having been accepted: the broker may come back to
                    // its senses (a restart with its password file); keep trying.
                    Self::pause(&mut backoff, &mut release).await;
                    continue;
                }
                _ => {
                    Self::pause(&mut backoff, &mut release).await;
                    continue;
                }
            };
            if connected_once {
                outcome.reconnects += 1;
            }
            connected_once = true;
            backoff.reset();
            if stream.write_all(&self.subscribe).await.is_err() {
                continue;
            }
            let mut last_write = Instant::now();
            let mut rlen = 0usize;
            loop {
                let ping_at = last_write + self.keep_alive / 2;
                tokio::select! {
                    r = stream.read(&mut rbuf[rlen..]) => {
                        match r {
                            Ok(0) | Err(_) => continue 'session,
                            Ok(n) => rlen += n,
                        }
                        let Ok(used) = parse(&rbuf[..rlen], self.v5, &mut incoming) else {
                            continue 'session;
                        };
                        for p in incoming.drain(..) {
                            match p {
                                SubIncoming::Publish { qos, pkid, payload } => {
                                    ranges.push(payload);
                                    match qos {
                                        1 => wbuf.extend_from_slice(&[0x40, 0x02]),
                                        2 => wbuf.extend_from_slice(&[0x50, 0x02]),
                                        _ => continue,
                                    }
                                    wbuf.extend_from_slice(&pkid.to_be_bytes());
                                }
                                SubIncoming::Release { pkid } => {
                                    wbuf.extend_from_slice(&[0x70, 0x02]);
                                    wbuf.extend_from_slice(&pkid.to_be_bytes());
                                }
                                SubIncoming::SubAck { ok: true } if !subscribed => {
                                    subscribed = true;
                                    if let Some(g) = &self.gate {
                                        g.subscribed();
                                    }
                                    if let Some(r) = ready.take() {
                                        let _ = r.send(Ok(()));
                                    }
                                }
                                SubIncoming::SubAck { ok: false } => {
                                    if let Some(r) = ready.take() {
                                        let _ = r.send(Err(SubFailure::Refused(
                                            "the broker refused the subscription".into(),
                                        )));
                                        return outcome;
                                    }
                                }
                                SubIncoming::SubAck { ok: true } => {}
                                SubIncoming::Disconnect => continue 'session,
                                SubIncoming::Other => {}
                            }
                        }
                        if !ranges.is_empty() {
                            handle(Batch { buf: &rbuf[..rlen], ranges: &ranges });
                            ranges.clear();
                        }
                        rbuf.copy_within(used..rlen, 0);
                        rlen -= used;
                        if rlen == rbuf.len() {
                            // A packet larger than the buffer: grow for it.
                            rbuf.resize(rbuf.len() * 2, 0);
                        }
                    }
                    _ = tokio::time::sleep_until(ping_at), if !self.keep_alive.is_zero() => {
                        wbuf.extend_from_slice(&idle::PINGREQ);
                    }
                    r = release.changed() => {
                        if r.is_err() || *release.borrow() {
                            let _ = tokio::time::timeout(Duration::from_secs(2), idle::close(stream)).await;
                            return outcome;
                        }
                    }
                }
                if !wbuf.is_empty() {
                    let wrote = stream.write_all(&wbuf).await;
                    wbuf.clear();
                    if wrote.is_err() {
                        continue 'session;
                    }
                    last_write = Instant::now();
                }
            }
        }
    }

    /// Wait before the next attempt, cut short by release.
    async fn pause(backoff: &mut Backoff, release: &mut watch::Receiver<bool>) {
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_wait()) => {}
            _ = release.changed() => {}
        }
    }
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
                SubIncoming::SubAck { ok: true },
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
                SubIncoming::SubAck { ok: false },
                SubIncoming::SubAck { ok: false }
            ]
        );
    }

    #[test]
    fn broken_packets_are_errors_not_panics() {
        let mut out = Vec::new();
        // QoS 3; a topic length past the packet; a property length past the packet; an
        // over-long remaining length.
        for bytes in [
            &[0x36, 2, 0, 0][..],
            &[0x30, 2, 0, 9],
            &[0x32, 5, 0, 1, b't', 0, 1],
            &[0x32, 6, 0, 1, b't', 0, 1, 9],
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 1],
        ] {
            let r = parse(bytes, true, &mut out);
            assert!(r.is_err() || out.is_empty(), "{bytes:?} gave {out:?}");
        }
    }
}
