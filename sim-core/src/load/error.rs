//! The load engine's errors: [`LinkError`] for a lean session's link to the broker
//! (dialing, the handshake, a packet that will not encode or decode), [`LoadError`] for
//! what a user gave it (a flag's value, reports to merge).
//!
//! The drivers (`publish`, `connect`, `subscribe`) return the crate's
//! [`crate::run::RunError`], as `twin run` does, so the binary maps one error to exit
//! codes.

/// Why a lean session did not open, or did not stay open, or a packet would not encode.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Socket, connect, read or write failed (refused TCP connection, reset, ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The broker answered CONNECT with a non-zero CONNACK return code (§3.2.2.3).
    #[error(
        "connection refused: CONNACK return code {code} ({})",
        connack_reason(*code)
    )]
    Refused {
        /// The return code, 1 to 5 in MQTT 3.1.1.
        code: u8,
    },
    /// The broker sent bytes that are not what this state of the session expects.
    #[error("unexpected bytes from the broker: {}", hex(.0))]
    Protocol(Vec<u8>),
    /// The broker closed the connection.
    #[error("the broker closed the connection")]
    Closed,
    /// The broker ended the session with an MQTT 5 DISCONNECT and a reason code
    /// (§3.14.2.1).
    #[error(
        "the broker sent DISCONNECT with reason code {code:#04x} ({})",
        reason_name(*code)
    )]
    Disconnected {
        /// The reason code.
        code: u8,
    },
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

/// Bytes as hex pairs, "20 02 ff 00".
pub fn hex(bytes: &[u8]) -> String {
    let pairs: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    pairs.join(" ")
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

/// The name of an MQTT 5 reason code (§2.4, table 2-6) as the spec gives it, for the
/// codes a broker sends in DISCONNECT, PUBACK, PUBREC, PUBCOMP and SUBACK. Code 0 is
/// "success" (in a DISCONNECT, "normal disconnection").
pub fn reason_name(code: u8) -> &'static str {
    match code {
        0x00 => "success",
        0x01 => "granted QoS 1",
        0x02 => "granted QoS 2",
        0x04 => "disconnect with will message",
        0x10 => "no matching subscribers",
        0x11 => "no subscription existed",
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x83 => "implementation specific error",
        0x87 => "not authorized",
        0x89 => "server busy",
        0x8B => "server shutting down",
        0x8D => "keep alive timeout",
        0x8E => "session taken over",
        0x8F => "topic filter invalid",
        0x90 => "topic name invalid",
        0x91 => "packet identifier in use",
        0x92 => "packet identifier not found",
        0x93 => "receive maximum exceeded",
        0x94 => "topic alias invalid",
        0x95 => "packet too large",
        0x96 => "message rate too high",
        0x97 => "quota exceeded",
        0x98 => "administrative action",
        0x99 => "payload format invalid",
        0x9A => "retain not supported",
        0x9B => "QoS not supported",
        0x9C => "use another server",
        0x9D => "server moved",
        0x9E => "shared subscriptions not supported",
        0x9F => "connection rate exceeded",
        0xA0 => "maximum connect time",
        0xA1 => "subscription identifiers not supported",
        0xA2 => "wildcard subscriptions not supported",
        _ => "reserved",
    }
}

/// A value the load engine was given that it cannot use. The messages are the ones
/// users see after `error:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// `--shard` is not `i/N` with `0 <= i < N`.
    #[error("shard \"{0}\": expected i/N with 0 <= i < N, like 0/4")]
    Shard(String),
    /// `--buffer-policy` is not one of the three.
    #[error("buffer policy \"{0}\": expected drop-oldest, drop-newest or block-device")]
    BufferPolicy(String),
    /// `--mqtt-version` is not 3.1.1 or 5.
    #[error("MQTT version \"{0}\": expected 3.1.1 or 5")]
    Protocol(String),
    /// `twin report merge` got no reports.
    #[error("nothing to merge")]
    NothingToMerge,
    /// Reports that cannot be added into one (a mix of commands, a shard twice, ...).
    #[error("{0}")]
    Merge(String),
    /// A report's histogram (by name) is not a valid base64 HdrHistogram.
    #[error("{name}: {why}")]
    Histogram {
        /// The histogram's key in the report.
        name: String,
        /// What is wrong with it.
        why: String,
    },
}
