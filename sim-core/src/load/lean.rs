//! The publishing sessions of `twin load pub`, without a client library.
//!
//! A load generator must cost less than the broker it measures. A client library pays a
//! channel hop, an event per packet and a flush per publish; here one task per session
//! owns its socket, encodes every message that is due into one buffer and writes it
//! with one call, reads acknowledgements in the same task, and keeps its in-flight
//! window in a small ring. MQTT 3.1.1 and 5, QoS 0, 1 (PUBACK) and 2 (PUBREC, PUBREL,
//! PUBCOMP), over TCP or TLS, from a chosen source address, reconnecting with backoff.

use super::idle::{self, IdleError, Stream, Tls};
use super::{LoadCounters, encode_into, encode_json_into};
use crate::report::latency_histogram;
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;
use tokio::time::Instant;

/// Write at most this much in one call (then read, then go on).
const BATCH_BYTES: usize = 64 * 1024;

/// One publishing session: where it connects, what it publishes, on what schedule.
pub(crate) struct PubSession {
    /// Broker address.
    pub broker: SocketAddr,
    /// Local address to connect from.
    pub source: Option<IpAddr>,
    /// CONNECT, sent on every (re)connection.
    pub connect: Vec<u8>,
    /// TLS, for `mqtts://`.
    pub tls: Option<Arc<Tls>>,
    /// MQTT 5 framing.
    pub v5: bool,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// Retain flag.
    pub retain: bool,
    /// Payload bytes.
    pub size: usize,
    /// Topic of each of the session's devices.
    pub topics: Vec<Vec<u8>>,
    /// JSON body of each device's messages, instead of padding.
    pub bodies: Option<Vec<String>>,
    /// Global index of the session's first device.
    pub first_device: u32,
    /// Messages in all (round-robin over the devices).
    pub messages: u64,
    /// µs between two messages of the session.
    pub step_us: u64,
    /// µs from the session's start to its first message.
    pub offset_us: u64,
    /// Keep-alive: a PINGREQ when nothing was written for half of it.
    pub keep_alive: Duration,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Most QoS 1/2 messages awaiting acknowledgement.
    pub inflight: usize,
}

/// Histograms all sessions of a run record into. Shared, not per session: a
/// microsecond histogram spanning an hour is about 180 KiB, which per session would be
/// most of what a session costs. Each session records a whole batch per lock.
pub(crate) struct RunHistograms {
    /// PUBLISH → PUBACK/PUBCOMP, µs.
    pub ack: std::sync::Mutex<Histogram<u64>>,
    /// How late each message left against its schedule, µs.
    pub lag: std::sync::Mutex<Histogram<u64>>,
}

impl Default for RunHistograms {
    fn default() -> Self {
        RunHistograms {
            ack: std::sync::Mutex::new(latency_histogram()),
            lag: std::sync::Mutex::new(latency_histogram()),
        }
    }
}

fn record_all(h: &std::sync::Mutex<Histogram<u64>>, values: &mut Vec<u64>) {
    if values.is_empty() {
        return;
    }
    if let Ok(mut h) = h.lock() {
        for v in values.iter() {
            h.saturating_record((*v).max(1));
        }
    }
    values.clear();
}

/// What a session did.
pub(crate) struct PubOutcome {
    /// Messages written, per device of the session.
    pub sent: Vec<u64>,
    /// Whether the first connection succeeded.
    pub connected: bool,
    /// The first connection's TCP + CONNECT → CONNACK time, µs.
    pub connect_us: Option<u64>,
    /// When the schedule started.
    pub start: Option<Instant>,
}

/// Append a PUBLISH (MQTT 3.1.1 §3.3, MQTT 5 §3.3 with an empty property list).
pub fn publish_packet(
    out: &mut Vec<u8>,
    topic: &[u8],
    qos: u8,
    retain: bool,
    pkid: u16,
    v5: bool,
    payload: &[u8],
) -> Result<(), IdleError> {
    let remaining = 2 + topic.len() + if qos > 0 { 2 } else { 0 } + usize::from(v5) + payload.len();
    out.push(0x30 | (qos << 1) | u8::from(retain));
    idle::encode_remaining_length(remaining, out)?;
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic);
    if qos > 0 {
        out.extend_from_slice(&pkid.to_be_bytes());
    }
    if v5 {
        out.push(0);
    }
    out.extend_from_slice(payload);
    Ok(())
}

/// A packet the broker sent a publisher.
#[derive(Debug, PartialEq, Eq)]
enum Incoming {
    /// PUBACK (QoS 1 done) or PUBCOMP (QoS 2 done); `ok` false for an MQTT 5 failure code.
    Done { pkid: u16, ok: bool },
    /// PUBREC: answer with PUBREL.
    Received { pkid: u16, ok: bool },
    /// The broker is closing the session (MQTT 5 DISCONNECT).
    Disconnect,
    /// PINGRESP and anything else.
    Other,
}

/// Split complete packets off the front of `buf`; returns how many bytes they took.
fn parse(buf: &[u8], out: &mut Vec<Incoming>) -> Result<usize, IdleError> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        if rest.len() < 2 {
            return Ok(at);
        }
        // Remaining length, up to four bytes.
        let (mut len, mut mult, mut i) = (0usize, 1usize, 1);
        loop {
            let Some(&b) = rest.get(i) else { return Ok(at) };
            len += usize::from(b & 0x7F) * mult;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            mult *= 128;
            if i > 4 {
                return Err(IdleError::Protocol(rest[..i].to_vec()));
            }
        }
        if rest.len() < i + len {
            return Ok(at);
        }
        let body = &rest[i..i + len];
        let pkid = || body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        // MQTT 5 acknowledgements may carry a reason code; 0x80 and above is a failure.
        let ok = body.get(2).is_none_or(|r| *r < 0x80);
        out.push(match (rest[0] >> 4, pkid()) {
            (4 | 7, Some(pkid)) => Incoming::Done { pkid, ok },
            (5, Some(pkid)) => Incoming::Received { pkid, ok },
            (14, _) => Incoming::Disconnect,
            _ => Incoming::Other,
        });
        at += i + len;
    }
}

impl PubSession {
    fn due_us(&self, m: u64) -> u64 {
        self.offset_us + m * self.step_us
    }

    /// Publish the schedule; then wait for outstanding acknowledgements until `release`.
    pub async fn run(
        self,
        counters: Arc<LoadCounters>,
        stop: Arc<AtomicBool>,
        mut release: watch::Receiver<bool>,
        connecting: Arc<tokio::sync::Semaphore>,
        hists: Arc<RunHistograms>,
    ) -> PubOutcome {
        let (mut lags, mut acks): (Vec<u64>, Vec<u64>) = (Vec::new(), Vec::new());
        let dps = self.topics.len().max(1) as u64;
        let mut out = PubOutcome {
            sent: vec![0; self.topics.len()],
            connected: false,
            connect_us: None,
            start: None,
        };
        let permit = connecting.acquire_owned().await.ok();
        let t0 = Instant::now();
        let first = tokio::time::timeout(self.connect_timeout, self.open()).await;
        drop(permit);
        let Ok(Ok(mut stream)) = first else {
            return out;
        };
        out.connected = true;
        out.connect_us = Some((t0.elapsed().as_micros() as u64).max(1));
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let start_us = unix_us();
        out.start = Some(start);
        let mut up = true;
        let mut m = 0u64;
        let mut buf: Vec<u8> = Vec::with_capacity(1024);
        let mut payload: Vec<u8> = Vec::new();
        let mut batch: Vec<usize> = Vec::new();
        let mut rbuf = vec![0u8; 2048];
        let mut rlen = 0usize;
        let mut incoming = Vec::new();
        // QoS 1/2 messages written and not yet acknowledged: (packet id, when written).
        let mut pending: VecDeque<(u16, Instant)> = VecDeque::new();
        let mut next_pkid: u16 = 1;
        let ping_every = self.keep_alive / 2;
        let mut last_write = Instant::now();
        let mut backoff = Duration::from_millis(100);
        let far = start + Duration::from_secs(86_400 * 365);
        loop {
            if stop.load(Ordering::Relaxed) || *release.borrow() {
                break;
            }
            if !up {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                match tokio::time::timeout(self.connect_timeout, self.open()).await {
                    Ok(Ok(s)) => {
                        stream = s;
                        up = true;
                        backoff = Duration::from_millis(100);
                        counters.connections.fetch_add(1, Ordering::Relaxed);
                        rlen = 0;
                    }
                    _ => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            // Everything due now, in one write.
            let now = Instant::now();
            let now_us = unix_us();
            let mut worst_lag = 0;
            while m < self.messages
                && start + Duration::from_micros(self.due_us(m)) <= now
                && (self.qos == 0 || pending.len() < self.inflight)
                && buf.len() < BATCH_BYTES
            {
                let j = (m % dps) as usize;
                let seq = m / dps;
                let intended = start_us + self.due_us(m);
                let lag = now_us.saturating_sub(intended);
                lags.push(lag);
                worst_lag = worst_lag.max(lag);
                let device = self.first_device + j as u32;
                payload.clear();
                match &self.bodies {
                    Some(b) => encode_json_into(&mut payload, device, seq, intended, now_us, &b[j]),
                    None => encode_into(&mut payload, device, seq, intended, now_us, self.size),
                }
                let pkid = if self.qos > 0 {
                    while pending.iter().any(|(p, _)| *p == next_pkid) {
                        next_pkid = next_pkid.checked_add(1).unwrap_or(1);
                    }
                    let p = next_pkid;
                    next_pkid = next_pkid.checked_add(1).unwrap_or(1);
                    pending.push_back((p, now));
                    p
                } else {
                    0
                };
                if publish_packet(
                    &mut buf,
                    &self.topics[j],
                    self.qos,
                    self.retain,
                    pkid,
                    self.v5,
                    &payload,
                )
                .is_err()
                {
                    break;
                }
                batch.push(j);
                m += 1;
            }
            if worst_lag > 0 {
                counters.lag_us.fetch_max(worst_lag, Ordering::Relaxed);
            }
            record_all(&hists.lag, &mut lags);
            if !buf.is_empty() {
                let wrote = stream.write_all(&buf).await;
                buf.clear();
                if wrote.is_err() {
                    // Written into a dead socket: not sent. The in-flight ones may or may
                    // not have reached the broker; the subscriber's count decides.
                    batch.clear();
                    self.lost_connection(&counters, &mut up, &mut pending);
                    continue;
                }
                last_write = Instant::now();
                counters
                    .sent
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                for j in batch.drain(..) {
                    out.sent[j] += 1;
                }
            }
            if m >= self.messages && pending.is_empty() {
                // Done; hold the session until the run releases it.
                tokio::select! {
                    _ = release.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
            let room = self.qos == 0 || pending.len() < self.inflight;
            let next_due = if m < self.messages && room {
                start + Duration::from_micros(self.due_us(m))
            } else {
                far
            };
            let ping_at = last_write + ping_every;
            tokio::select! {
                r = stream.read(&mut rbuf[rlen..]) => {
                    match r {
                        Ok(0) | Err(_) => {
                            self.lost_connection(&counters, &mut up, &mut pending);
                            continue;
                        }
                        Ok(n) => rlen += n,
                    }
                    let used = match parse(&rbuf[..rlen], &mut incoming) {
                        Ok(u) => u,
                        Err(_) => {
                            self.lost_connection(&counters, &mut up, &mut pending);
                            continue;
                        }
                    };
                    rbuf.copy_within(used..rlen, 0);
                    rlen -= used;
                    if rlen == rbuf.len() {
                        // A packet larger than the buffer: grow for it.
                        rbuf.resize(rbuf.len() * 2, 0);
                    }
                    for p in incoming.drain(..) {
                        match p {
                            Incoming::Done { pkid, ok } => {
                                let at = pending
                                    .iter()
                                    .position(|(p, _)| *p == pkid)
                                    .and_then(|i| pending.remove(i));
                                match at {
                                    Some((_, at)) if ok => {
                                        acks.push(at.elapsed().as_micros() as u64);
                                        counters.acked.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Some(_) => {
                                        counters.errors.fetch_add(1, Ordering::Relaxed);
                                    }
                                    None => {}
                                }
                            }
                            Incoming::Received { pkid, ok } => {
                                if ok {
                                    buf.extend_from_slice(&[0x62, 0x02]);
                                    buf.extend_from_slice(&pkid.to_be_bytes());
                                } else if let Some(i) = pending.iter().position(|(p, _)| *p == pkid) {
                                    pending.remove(i);
                                    counters.errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Incoming::Disconnect => {
                                self.lost_connection(&counters, &mut up, &mut pending);
                            }
                            Incoming::Other => {}
                        }
                    }
                    record_all(&hists.ack, &mut acks);
                }
                _ = tokio::time::sleep_until(next_due), if next_due < far => {}
                _ = tokio::time::sleep_until(ping_at), if !ping_every.is_zero() => {
                    buf.extend_from_slice(&idle::PINGREQ);
                }
                _ = release.changed() => break,
            }
        }
        if up {
            counters.connections.fetch_sub(1, Ordering::Relaxed);
            let _ = tokio::time::timeout(Duration::from_secs(2), idle::close(stream)).await;
        }
        out
    }

    async fn open(&self) -> Result<Stream, IdleError> {
        idle::open(
            self.broker,
            self.source,
            self.connect.clone(),
            self.tls.as_deref(),
            // Every due message already goes out in one write: nothing to wait for.
            true,
        )
        .await
    }

    fn lost_connection(
        &self,
        counters: &LoadCounters,
        up: &mut bool,
        pending: &mut VecDeque<(u16, Instant)>,
    ) {
        if *up {
            *up = false;
            counters.connections.fetch_sub(1, Ordering::Relaxed);
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_packets_are_byte_exact() {
        let mut b = Vec::new();
        publish_packet(&mut b, b"a/b", 0, false, 0, false, b"hi").unwrap();
        // §3.3: 0x30, remaining 2 + 3 + 2, topic, payload (no packet id at QoS 0).
        assert_eq!(b, [0x30, 7, 0, 3, b'a', b'/', b'b', b'h', b'i']);
        b.clear();
        publish_packet(&mut b, b"t", 1, true, 0x0102, false, b"x").unwrap();
        assert_eq!(b, [0x33, 6, 0, 1, b't', 0x01, 0x02, b'x']);
        b.clear();
        // MQTT 5: a property length (0) after the packet id.
        publish_packet(&mut b, b"t", 2, false, 7, true, b"").unwrap();
        assert_eq!(b, [0x34, 6, 0, 1, b't', 0, 7, 0]);
    }

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
                Incoming::Done { pkid: 1, ok: true },
                Incoming::Received { pkid: 2, ok: true },
                Incoming::Done { pkid: 3, ok: true },
                Incoming::Other,
            ]
        );
        // An MQTT 5 PUBACK with "not authorized" (0x87) is a failure.
        out.clear();
        parse(&[0x40, 3, 0, 9, 0x87], &mut out).unwrap();
        assert_eq!(out, [Incoming::Done { pkid: 9, ok: false }]);
    }
}
