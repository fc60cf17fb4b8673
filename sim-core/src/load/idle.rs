//! Idle MQTT 3.1.1 or 5 sessions for `twin load conn`, without a client library, over
//! TCP or TLS (tokio-rustls, the configuration `mqtts://` brokers get everywhere else).
//!
//! A held idle session needs five packets: CONNECT, CONNACK, PINGREQ, PINGRESP and
//! DISCONNECT. A rumqttc session carries fixed buffers sized for publishing (an 8 KiB
//! QoS 2 bitset, a 100-event queue, a 100-entry pending list, inflight arrays, read
//! buffers): about 30 KiB of RSS per held session, which caps how many sessions one load
//! process can hold. Here a session is a tokio `TcpStream` and one small future: the
//! CONNECT packet is built, written and freed, and CONNACK and PINGRESP (4 and 2 bytes)
//! are read into a 4-byte buffer on the future's own state, so a held session owns no
//! heap buffer beyond what tokio needs for the socket.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// PINGREQ: type 12, no flags, remaining length 0 (MQTT 3.1.1 §3.12).
pub const PINGREQ: [u8; 2] = [0xC0, 0x00];
/// PINGRESP: type 13, remaining length 0 (§3.13).
pub const PINGRESP: [u8; 2] = [0xD0, 0x00];
/// DISCONNECT: type 14, remaining length 0 (§3.14).
pub const DISCONNECT: [u8; 2] = [0xE0, 0x00];
/// The largest remaining length the four-byte encoding holds (§2.2.3).
pub const MAX_REMAINING_LENGTH: usize = 268_435_455;

/// Why a session did not open, or did not stay open.
#[derive(Debug, thiserror::Error)]
pub enum IdleError {
    /// Socket, connect, read or write failed (refused TCP connection, reset, ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The broker answered CONNECT with a non-zero CONNACK return code (§3.2.2.3).
    #[error("connection refused: CONNACK return code {code} ({})", connack_reason(*code))]
    Refused {
        /// The return code, 1 to 5 in MQTT 3.1.1.
        code: u8,
    },
    /// The broker sent bytes that are not what this state of the session expects.
    #[error("unexpected bytes from the broker: {0:02x?}")]
    Protocol(Vec<u8>),
    /// The broker closed the connection.
    #[error("the broker closed the connection")]
    Closed,
    /// A PINGREQ went unanswered for half the keep-alive.
    #[error("no PINGRESP within half the keep-alive")]
    NoPingResponse,
    /// The TLS handshake failed (certificate not trusted, name mismatch, ...).
    #[error("TLS failed: {0}")]
    Tls(std::io::Error),
    /// A packet too large for MQTT (a client id over 65535 bytes).
    #[error("{0}")]
    TooLong(String),
}

/// What a CONNACK return code means (MQTT 3.1.1 §3.2.2.3, table 3.1) or, from 0x80, an
/// MQTT 5 reason code.
pub fn connack_reason(code: u8) -> &'static str {
    match code {
        0 => "connection accepted",
        1 => "unacceptable protocol version",
        2 => "identifier rejected",
        3 => "server unavailable",
        4 => "bad user name or password",
        5 => "not authorized",
        // MQTT 5 reason codes (§3.2.2.2).
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8A => "banned",
        0x8C => "bad authentication method",
        0x95 => "packet too large",
        0x97 => "quota exceeded",
        0x9F => "connection rate exceeded",
        _ => "reserved",
    }
}

/// Append the "remaining length" of a fixed header: 7 bits a byte, least significant
/// first, the high bit set on every byte but the last (§2.2.3).
pub fn encode_remaining_length(n: usize, out: &mut Vec<u8>) -> Result<(), IdleError> {
    if n > MAX_REMAINING_LENGTH {
        return Err(IdleError::TooLong(format!(
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
pub fn decode_varint(b: &[u8]) -> Result<Option<(usize, usize)>, IdleError> {
    let (mut value, mut mult) = (0usize, 1usize);
    for (i, &byte) in b.iter().enumerate() {
        if i == 4 {
            return Err(IdleError::Protocol(b[..4].to_vec()));
        }
        value += usize::from(byte & 0x7F) * mult;
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
        mult *= 128;
    }
    if b.len() >= 4 {
        return Err(IdleError::Protocol(b[..4].to_vec()));
    }
    Ok(None)
}

/// The first whole packet at the front of `b`: its fixed header's first byte, where its
/// body starts and how long the body is; `Ok(None)` when it has not all arrived yet.
pub fn frame(b: &[u8]) -> Result<Option<(u8, usize, usize)>, IdleError> {
    let Some(&first) = b.first() else {
        return Ok(None);
    };
    let Some((len, used)) = decode_varint(&b[1..])? else {
        return Ok(None);
    };
    let start = 1 + used;
    Ok((b.len() >= start + len).then_some((first, start, len)))
}

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
) -> Result<Vec<u8>, IdleError> {
    let string = |s: &str, what: &str| -> Result<Vec<u8>, IdleError> {
        let len = u16::try_from(s.len()).map_err(|_| {
            IdleError::TooLong(format!(
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
    encode_remaining_length(remaining, &mut p)?;
    p.extend(var);
    p.extend(payload);
    Ok(p)
}

/// A session's connection: plain TCP or TLS over it.
pub enum Stream {
    /// `mqtt://`.
    Plain(TcpStream),
    /// `mqtts://`.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// TLS for a session: the client configuration and the name to verify.
#[derive(Clone)]
pub struct Tls {
    /// From the broker's [`crate::transport::endpoint::Endpoint`].
    pub config: Arc<rustls::ClientConfig>,
    /// The broker's host name (or address) the certificate must match.
    pub server_name: rustls::pki_types::ServerName<'static>,
}

/// Where and how a session connects, kept to connect again.
pub struct Dial {
    /// Broker address.
    pub broker: SocketAddr,
    /// Local address to connect from.
    pub source: Option<IpAddr>,
    /// CONNECT, sent on every (re)connection.
    pub connect: Vec<u8>,
    /// TLS, for `mqtts://`.
    pub tls: Option<Arc<Tls>>,
}

impl Dial {
    /// [`open`] a connection, without Nagle's delay: the load sessions batch their
    /// writes themselves.
    pub async fn open(&self) -> Result<Stream, IdleError> {
        open(
            self.broker,
            self.source,
            self.connect.clone(),
            self.tls.as_deref(),
            true,
        )
        .await
    }
}

/// Open a session: a TCP connection to `broker` (from `source`, any port, when given),
/// TLS over it when asked, the CONNECT `packet` written, and a CONNACK with return (or
/// reason) code 0 read back.
pub async fn open(
    broker: SocketAddr,
    source: Option<IpAddr>,
    packet: Vec<u8>,
    tls: Option<&Tls>,
    nodelay: bool,
) -> Result<Stream, IdleError> {
    let socket = if broker.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let tcp = socket.connect(broker).await?;
    tcp.set_nodelay(nodelay)?;
    let mut stream = match tls {
        None => Stream::Plain(tcp),
        // Boxed: the handshake's state is large, and only lives while it runs; inline it
        // would size every held session's future.
        Some(t) => Stream::Tls(Box::new(
            Box::pin(
                tokio_rustls::TlsConnector::from(t.config.clone())
                    .connect(t.server_name.clone(), tcp),
            )
            .await
            .map_err(IdleError::Tls)?,
        )),
    };
    stream.write_all(&packet).await?;
    drop(packet);
    let eof = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            IdleError::Closed
        } else {
            IdleError::Io(e)
        }
    };
    // CONNACK: type 2, remaining length (2 in 3.1.1; 3 and more in 5, with properties),
    // acknowledge flags (session present), then the return or reason code.
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.map_err(eof)?;
    if head[0] != 0x20 || head[1] < 2 || head[1] & 0x80 != 0 {
        return Err(IdleError::Protocol(head.to_vec()));
    }
    let mut body = vec![0u8; usize::from(head[1])];
    stream.read_exact(&mut body).await.map_err(eof)?;
    match body[1] {
        0 => Ok(stream),
        code => Err(IdleError::Refused { code }),
    }
}

/// Hold an open session until `release` turns true: a PINGREQ every half keep-alive
/// (none when it is 0), each answered by a PINGRESP before the next is due. Returns
/// `Ok` when released; an error when the session dropped.
pub async fn hold(
    stream: &mut Stream,
    keep_alive_s: u16,
    release: &mut watch::Receiver<bool>,
) -> Result<(), IdleError> {
    let period = Duration::from_millis(u64::from(keep_alive_s) * 500);
    let mut next_ping = (keep_alive_s > 0).then(|| Instant::now() + period);
    // PINGREQs sent and not yet answered, and how much of a PINGRESP has arrived.
    let mut unanswered = 0u8;
    let mut partial = false;
    let mut buf = [0u8; 4];
    loop {
        tokio::select! {
            // A closed sender releases too: nobody is left to hold the session for. (The
            // borrow `wait_for` returns is dropped here: it must not live across an await.)
            _ = async { drop(release.wait_for(|r| *r).await) } => return Ok(()),
            n = stream.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    return Err(IdleError::Closed);
                }
                for &b in &buf[..n] {
                    match (partial, b) {
                        (false, 0xD0) => partial = true,
                        (true, 0x00) => {
                            partial = false;
                            unanswered = unanswered.saturating_sub(1);
                        }
                        _ => return Err(IdleError::Protocol(buf[..n].to_vec())),
                    }
                }
            }
            _ = tokio::time::sleep_until(next_ping.unwrap_or_else(Instant::now)), if next_ping.is_some() => {
                if unanswered > 0 {
                    return Err(IdleError::NoPingResponse);
                }
                stream.write_all(&PINGREQ).await?;
                unanswered += 1;
                next_ping = next_ping.map(|t| t + period);
            }
        }
    }
}

/// End a session cleanly: DISCONNECT, then close our side.
pub async fn close(mut stream: Stream) {
    let _ = stream.write_all(&DISCONNECT).await;
    let _ = stream.shutdown().await;
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
    fn fixed_packets_are_the_spec_bytes() {
        assert_eq!(PINGREQ, [0b1100_0000, 0]);
        assert_eq!(PINGRESP, [0b1101_0000, 0]);
        assert_eq!(DISCONNECT, [0b1110_0000, 0]);
        assert_eq!(connack_reason(5), "not authorized");
    }
}
