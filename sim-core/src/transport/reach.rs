//! Whether a broker can be used, and if not, why, said at once: its name does not
//! resolve, its port refuses the connection, TLS fails, it refuses our credentials, it
//! answers CONNECT with bytes that are not a CONNACK, or nothing answers in time.
//!
//! [`probe`] makes one connection the way every session would (TCP, TLS, CONNECT,
//! CONNACK) and closes it; `twin run` and `twin mirror` call it before they start their
//! sessions, so a broker that cannot be used fails the command in a moment, not after the
//! connect timeout. The lean load sessions name their failures with [`describe`].

use crate::error::RunError;
use crate::load::codec::connect::connect_packet;
use crate::load::dial::{self, Tls};
use crate::load::error::{LinkError, connack_reason, hex};
use crate::transport::endpoint::Endpoint;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// How long to probe, and what to do while it goes.
#[derive(Debug, Clone, Copy)]
pub struct ProbeLimits {
    /// Longest wait for one answer (TCP connection, TLS handshake, CONNACK).
    pub connect_timeout: Duration,
    /// How long a name that does not resolve, or a refused port, is tried again (a
    /// broker that is still starting); zero gives up at once.
    pub wait_for_broker: Duration,
}

/// A failed connection in words: "connection refused", "timed out", "TLS failed: ...",
/// "the broker answered CONNECT with bytes that are not a CONNACK: ...", "the broker
/// refused the connection: CONNACK return code 4 (bad user name or password)".
pub fn describe(e: &LinkError) -> String {
    match e {
        LinkError::Io(io) => describe_io(io),
        LinkError::Refused { code } => format!(
            "the broker refused the connection: CONNACK return code {code} ({})",
            connack_reason(*code)
        ),
        LinkError::Protocol(bytes) => format!(
            "the broker answered CONNECT with bytes that are not a CONNACK: {} (is it an MQTT broker?)",
            hex(bytes)
        ),
        LinkError::Closed => "the broker closed the connection before its CONNACK".into(),
        LinkError::Tls(e) => tls_words(&e.to_string()),
        other => other.to_string(),
    }
}

/// A failed TLS handshake in words, with what to do. The TLS library names certificate
/// problems by their type names (`UnknownIssuer`, `CaUsedAsEndEntity`); those are
/// explained, anything else is given as it came.
pub fn tls_words(detail: &str) -> String {
    const HINTS: [(&str, &str); 7] = [
        (
            "CaUsedAsEndEntity",
            "the broker presents a CA certificate as its own (a self-signed certificate made with CA:TRUE); give the broker a certificate signed by that CA, or make its self-signed certificate without the CA flag (--insecure skips verification, for tests only)",
        ),
        (
            "UnknownIssuer",
            "the broker's certificate is not signed by a CA this command trusts; give that CA with --cafile",
        ),
        (
            "NotValidForName",
            "the broker's certificate does not name the host of the broker URL; connect by a name (or address) the certificate holds",
        ),
        ("Expired", "the broker's certificate has expired"),
        (
            "NotValidYet",
            "the broker's certificate is not valid yet (is this machine's clock right?)",
        ),
        ("Revoked", "the broker's certificate was revoked"),
        (
            "BadSignature",
            "the broker's certificate has a signature that does not verify",
        ),
    ];
    match HINTS.iter().find(|(name, _)| detail.contains(name)) {
        Some((_, words)) => format!("TLS failed: {words}"),
        None => format!("TLS failed: {detail}"),
    }
}

/// An I/O error of a connection in words.
fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut => "timed out".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset by the broker".into(),
        _ => e.to_string(),
    }
}

/// Whether a failed first connection may succeed when tried again soon: a refused port
/// (a broker still starting). TLS, credentials and malformed answers will not change.
fn worth_retrying(e: &LinkError) -> bool {
    matches!(e, LinkError::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused)
}

/// The error for a failed connection: the broker's refusals and TLS as
/// [`RunError::Refused`], everything else as [`RunError::Unreachable`].
pub fn run_error(url: &str, e: &LinkError) -> RunError {
    let why = describe(e);
    match e {
        LinkError::Refused { .. } | LinkError::Tls(_) | LinkError::Protocol(_) => {
            RunError::Refused {
                url: url.to_string(),
                why,
            }
        }
        _ => RunError::Unreachable {
            url: url.to_string(),
            why,
        },
    }
}

/// Resolves once `stop` is set (looked at every 20 ms).
pub async fn stopped(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The error for a command a signal stopped while it connected to `url`.
pub fn interrupted(url: &str) -> RunError {
    RunError::Interrupted {
        while_: format!("while connecting to broker {url}"),
    }
}

/// Connect to the broker at `url` once as a session would, and close again: `Ok` when
/// it took us; else why not, as soon as that is known. A refused port or an unresolved
/// name is tried again for `limits.wait_for_broker`; `stop` ends the probe at once with
/// [`RunError::Interrupted`].
pub async fn probe(
    url: &str,
    ep: &Endpoint,
    limits: ProbeLimits,
    stop: &AtomicBool,
) -> Result<(), RunError> {
    let give_up = Instant::now() + limits.wait_for_broker;
    loop {
        let tried = tokio::select! {
            r = attempt(url, ep, limits.connect_timeout) => r,
            _ = stopped(stop) => return Err(interrupted(url)),
        };
        match tried {
            Ok(()) => return Ok(()),
            Err(Attempt::Retry(e)) if Instant::now() < give_up => {
                tracing::debug!(%url, "{e}; trying again");
            }
            Err(Attempt::Retry(e) | Attempt::Final(e)) => return Err(e),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stopped(stop) => return Err(interrupted(url)),
        }
    }
}

/// A failed attempt: worth another (the broker may be starting) or not.
enum Attempt {
    Retry(RunError),
    Final(RunError),
}

/// One connection: resolve, TCP, TLS, CONNECT and CONNACK, each within `within`.
async fn attempt(url: &str, ep: &Endpoint, within: Duration) -> Result<(), Attempt> {
    let timed_out = |what: &str| {
        Attempt::Final(RunError::Unreachable {
            url: url.to_string(),
            why: format!("timed out: {what} within {:.0} s", within.as_secs_f64()),
        })
    };
    let failed = |e: LinkError| {
        let err = run_error(url, &e);
        if worth_retrying(&e) {
            Attempt::Retry(err)
        } else {
            Attempt::Final(err)
        }
    };
    let addrs = match tokio::time::timeout(within, dial::lookup(url, &ep.host, ep.port)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return Err(Attempt::Retry(e)),
        Err(_) => return Err(timed_out("no answer from the name service")),
    };
    let tls = Tls::of(ep).map_err(Attempt::Final)?;
    let client_id = format!("twin-probe-{}", std::process::id());
    let packet = connect_packet(&client_id, 30, false, ep.credentials(), None)
        .map_err(|e| Attempt::Final(RunError::BadInput(e.to_string())))?;
    let tcp = match tokio::time::timeout(within, dial::tcp(addrs[0], None, true)).await {
        Ok(r) => r.map_err(failed)?,
        Err(_) => return Err(timed_out("no TCP connection")),
    };
    let mut stream = match tokio::time::timeout(within, dial::secure(tcp, tls.as_ref())).await {
        Ok(r) => r.map_err(failed)?,
        Err(_) => return Err(timed_out("no TLS handshake")),
    };
    match tokio::time::timeout(within, dial::handshake(&mut stream, packet)).await {
        Ok(r) => r.map_err(failed)?,
        Err(_) => return Err(timed_out("no CONNACK after CONNECT")),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), dial::close(stream)).await;
    Ok(())
}
