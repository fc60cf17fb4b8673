//! The publishing sessions of `twin load pub`, without a client library.
//!
//! A load generator must cost less than the broker it measures. A client library pays a
//! channel hop, an event per packet and a flush per publish; here one task per session
//! owns its socket, encodes every message that is due into one buffer and writes it
//! with one call, reads acknowledgements in the same task, and keeps its in-flight
//! window in a small ring. MQTT 3.1.1 and 5, QoS 0, 1 (PUBACK) and 2 (PUBREC, PUBREL,
//! PUBCOMP), over TCP or TLS, from a chosen source address, reconnecting with backoff.

use super::idle::{self, Dial, IdleError, Stream};
use super::{BufferPolicy, Dropped, LoadCounters, Pacer, encode_into, encode_json_into};
use crate::report::latency_histogram;
use crate::transport::backoff::Backoff;
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use std::collections::VecDeque;
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
    /// Where it connects, again after a lost connection.
    pub dial: Dial,
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
    /// Most messages waiting to be written (all devices of the session together).
    pub buffer: usize,
    /// Most bytes of messages waiting to be written.
    pub buffer_bytes: usize,
    /// What to do with a due message when the buffer is full and nothing can be written.
    pub policy: BufferPolicy,
    /// Open while the run's counting subscribers are all subscribed: a publisher holds
    /// its messages while they are away, so what the report calls lost is what the
    /// broker lost, not what nobody was listening for.
    pub gate: watch::Receiver<bool>,
    /// Spaces reconnection attempts over the run.
    pub pacer: Arc<Pacer>,
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
    /// Messages not sent, by reason.
    pub dropped: Dropped,
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
pub(super) enum Incoming {
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
pub(super) fn parse(buf: &[u8], out: &mut Vec<Incoming>) -> Result<usize, IdleError> {
    let mut at = 0;
    loop {
        let rest = &buf[at..];
        let Some((first, start, len)) = idle::frame(rest)? else {
            return Ok(at);
        };
        let body = &rest[start..start + len];
        let pkid = || body.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        // MQTT 5 acknowledgements may carry a reason code; 0x80 and above is a failure.
        let ok = body.get(2).is_none_or(|r| *r < 0x80);
        out.push(match (first >> 4, pkid()) {
            (4 | 7, Some(pkid)) => Incoming::Done { pkid, ok },
            (5, Some(pkid)) => Incoming::Received { pkid, ok },
            (14, _) => Incoming::Disconnect,
            _ => Incoming::Other,
        });
        at += start + len;
    }
}

/// A message waiting for the socket.
#[derive(Debug, Clone, Copy)]
struct Queued {
    /// Its index in the session's schedule.
    m: u64,
    /// Written before a connection was lost: its packet id, and whether the broker had
    /// acknowledged receipt (PUBREC), so PUBREL goes out rather than the PUBLISH.
    again: Option<(u16, bool)>,
}

/// A QoS 1/2 message written and not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct Pending {
    pkid: u16,
    at: Instant,
    m: u64,
    /// PUBREC seen (QoS 2).
    rec: bool,
}

/// Where a session keeps what it has not written yet and what awaits acknowledgement.
struct Backlog {
    queue: VecDeque<Queued>,
    /// Bytes of the new (never written) messages in `queue`.
    bytes: usize,
    pending: VecDeque<Pending>,
    next_pkid: u16,
}

impl Backlog {
    /// A packet id not held by a pending or re-queued message, nor by `taken`.
    fn free_pkid(&mut self, taken: &[u16]) -> u16 {
        loop {
            let p = self.next_pkid;
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            let busy = self.pending.iter().any(|x| x.pkid == p)
                || self
                    .queue
                    .iter()
                    .any(|q| q.again.is_some_and(|(a, _)| a == p))
                || taken.contains(&p);
            if !busy {
                return p;
            }
        }
    }
}

impl PubSession {
    fn due_us(&self, m: u64) -> u64 {
        self.offset_us + m * self.step_us
    }

    /// How much of the buffer a message of device `j` takes.
    fn msg_bytes(&self, j: usize) -> usize {
        self.topics[j].len()
            + match &self.bodies {
                Some(b) => b[j].len() + 64,
                None => self.size.max(super::HEADER),
            }
    }

    /// Messages due by `now` (from the schedule's start).
    fn due_by(&self, start: Instant, now: Instant) -> u64 {
        let since = now.saturating_duration_since(start).as_micros() as u64;
        if since < self.offset_us {
            return 0;
        }
        ((since - self.offset_us) / self.step_us.max(1) + 1).min(self.messages)
    }

    /// Connect, retrying with backoff until the connect timeout; a refusal or a TLS
    /// failure ends it at once.
    async fn first_open(&self) -> Option<Stream> {
        let deadline = Instant::now() + self.connect_timeout;
        let mut backoff = Backoff::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.dial.open()).await {
                Ok(Ok(s)) => return Some(s),
                Ok(Err(IdleError::Refused { .. } | IdleError::Tls(_))) | Err(_) => return None,
                Ok(Err(_)) => {}
            }
            let wait = backoff.next_wait();
            if Instant::now() + wait >= deadline {
                return None;
            }
            tokio::time::sleep(wait).await;
        }
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
            dropped: Dropped::default(),
        };
        let mut gate = self.gate.clone();
        let permit = connecting.acquire_owned().await.ok();
        let t0 = Instant::now();
        let first = self.first_open().await;
        drop(permit);
        let Some(mut stream) = first else {
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
        // Of the queue's front, the packet ids the current write gives them.
        let mut taken: Vec<u16> = Vec::new();
        let mut rbuf = vec![0u8; 2048];
        let mut rlen = 0usize;
        let mut incoming = Vec::new();
        let mut log = Backlog {
            queue: VecDeque::new(),
            bytes: 0,
            pending: VecDeque::new(),
            next_pkid: 1,
        };
        let ping_every = self.keep_alive / 2;
        let mut last_write = Instant::now();
        let mut backoff = Backoff::default();
        let far = start + Duration::from_secs(86_400 * 365);
        loop {
            if stop.load(Ordering::Relaxed) || *release.borrow() {
                break;
            }
            let now = Instant::now();
            let now_us = unix_us();
            let open = up && *gate.borrow();
            let window = self.qos == 0 || log.pending.len() < self.inflight;
            let writable = open && window;
            // Admit what has fallen due into the queue, by the buffer's policy when the
            // session cannot write it now.
            while m < self.messages && start + Duration::from_micros(self.due_us(m)) <= now {
                if self.qos == 0 && !open {
                    // QoS 0 is fire and forget: nothing to keep it for.
                    out.dropped.offline += 1;
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    m += 1;
                    continue;
                }
                let bytes = self.msg_bytes((m % dps) as usize);
                let full = log.queue.len() >= self.buffer
                    || (log.bytes + bytes > self.buffer_bytes && !log.queue.is_empty());
                if full {
                    if writable {
                        // Only behind: the queue drains as fast as the socket takes it.
                        break;
                    }
                    match self.policy {
                        BufferPolicy::BlockDevice => break,
                        BufferPolicy::DropNewest => {
                            out.dropped.buffer_full += 1;
                            counters.dropped.fetch_add(1, Ordering::Relaxed);
                            m += 1;
                            continue;
                        }
                        BufferPolicy::DropOldest => {
                            out.dropped.buffer_full += 1;
                            counters.dropped.fetch_add(1, Ordering::Relaxed);
                            match log.queue.iter().position(|q| q.again.is_none()) {
                                Some(i) => {
                                    if let Some(q) = log.queue.remove(i) {
                                        log.bytes -= self.msg_bytes((q.m % dps) as usize);
                                    }
                                }
                                // Only re-sends are queued: they stay, the new one goes.
                                None => {
                                    m += 1;
                                    continue;
                                }
                            }
                        }
                    }
                }
                log.queue.push_back(Queued { m, again: None });
                log.bytes += bytes;
                m += 1;
            }
            // Write what the window allows, in one call.
            let mut k = 0;
            if open {
                let mut worst_lag = 0;
                while let Some(q) = log.queue.get(k).copied() {
                    if !(self.qos == 0 || log.pending.len() + k < self.inflight)
                        || buf.len() >= BATCH_BYTES
                    {
                        break;
                    }
                    let j = (q.m % dps) as usize;
                    let intended = start_us + self.due_us(q.m);
                    let pkid = match q.again {
                        Some((pkid, true)) => {
                            // QoS 2 received by the broker: only the release is owed.
                            buf.extend_from_slice(&[0x62, 0x02]);
                            buf.extend_from_slice(&pkid.to_be_bytes());
                            taken.push(pkid);
                            k += 1;
                            continue;
                        }
                        Some((pkid, false)) => pkid,
                        None if self.qos > 0 => log.free_pkid(&taken),
                        None => 0,
                    };
                    if q.again.is_none() {
                        let lag = now_us.saturating_sub(intended);
                        lags.push(lag);
                        worst_lag = worst_lag.max(lag);
                    }
                    let device = self.first_device + j as u32;
                    let seq = q.m / dps;
                    payload.clear();
                    match &self.bodies {
                        Some(b) => {
                            encode_json_into(&mut payload, device, seq, intended, now_us, &b[j])
                        }
                        None => encode_into(&mut payload, device, seq, intended, now_us, self.size),
                    }
                    let at = buf.len();
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
                    if q.again.is_some() {
                        // §3.3.1.1: DUP on a re-delivery.
                        buf[at] |= 0x08;
                    }
                    taken.push(pkid);
                    k += 1;
                }
                if worst_lag > 0 {
                    counters.lag_us.fetch_max(worst_lag, Ordering::Relaxed);
                }
            }
            if !buf.is_empty() {
                let wrote = stream.write_all(&buf).await;
                buf.clear();
                if wrote.is_err() {
                    // Written into a dead socket: the queue keeps them, to go again.
                    taken.clear();
                    lags.clear();
                    self.lost_connection(&counters, &mut up, &mut log);
                    continue;
                }
                last_write = Instant::now();
                record_all(&hists.lag, &mut lags);
                let (mut fresh, mut again) = (0u64, 0u64);
                for (q, pkid) in log.queue.drain(..k).zip(taken.drain(..)) {
                    let j = (q.m % dps) as usize;
                    match q.again {
                        None => {
                            out.sent[j] += 1;
                            fresh += 1;
                            log.bytes -= self.msg_bytes(j);
                        }
                        Some(_) => again += 1,
                    }
                    if self.qos > 0 {
                        log.pending.push_back(Pending {
                            pkid,
                            at: now,
                            m: q.m,
                            rec: q.again.is_some_and(|(_, rec)| rec),
                        });
                    }
                }
                counters.sent.fetch_add(fresh, Ordering::Relaxed);
                if again > 0 {
                    counters.retransmitted.fetch_add(again, Ordering::Relaxed);
                }
            }
            if !up {
                // Full jitter over an exponential backoff, then a slot from the run's
                // pacer, so a fleet coming back to a restarted broker arrives as a ramp.
                let wait = backoff.next_wait();
                let permit = tokio::select! {
                    p = async {
                        tokio::time::sleep(wait).await;
                        self.pacer.wait().await
                    } => p,
                    _ = release.changed() => continue,
                };
                let attempt = tokio::time::timeout(self.connect_timeout, self.dial.open()).await;
                drop(permit);
                match attempt {
                    Ok(Ok(s)) => {
                        stream = s;
                        up = true;
                        backoff.reset();
                        counters.connections.fetch_add(1, Ordering::Relaxed);
                        counters.reconnects.fetch_add(1, Ordering::Relaxed);
                        rlen = 0;
                    }
                    _ => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                continue;
            }
            if m >= self.messages && log.queue.is_empty() && log.pending.is_empty() {
                // Done; hold the session until the run releases it.
                tokio::select! {
                    _ = release.changed() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
            let writable =
                up && *gate.borrow() && (self.qos == 0 || log.pending.len() < self.inflight);
            if writable && !log.queue.is_empty() {
                // More than one write's worth was due: go on after letting others run.
                tokio::task::yield_now().await;
                continue;
            }
            // Wake for the next due message, unless it could only wait behind a full
            // queue that holds it back.
            let blocked = m < self.messages && {
                let b = self.msg_bytes((m % dps) as usize);
                let full = log.queue.len() >= self.buffer
                    || (log.bytes + b > self.buffer_bytes && !log.queue.is_empty());
                full && (writable || self.policy == BufferPolicy::BlockDevice)
            };
            let next_due = if m < self.messages && !blocked {
                start + Duration::from_micros(self.due_us(m))
            } else {
                far
            };
            let ping_at = last_write + ping_every;
            let gate_open = *gate.borrow();
            tokio::select! {
                r = stream.read(&mut rbuf[rlen..]) => {
                    match r {
                        Ok(0) | Err(_) => {
                            self.lost_connection(&counters, &mut up, &mut log);
                            continue;
                        }
                        Ok(n) => rlen += n,
                    }
                    let used = match parse(&rbuf[..rlen], &mut incoming) {
                        Ok(u) => u,
                        Err(_) => {
                            self.lost_connection(&counters, &mut up, &mut log);
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
                                let at = log
                                    .pending
                                    .iter()
                                    .position(|p| p.pkid == pkid)
                                    .and_then(|i| log.pending.remove(i));
                                match at {
                                    Some(p) if ok => {
                                        acks.push(p.at.elapsed().as_micros() as u64);
                                        counters.acked.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Some(_) => {
                                        counters.errors.fetch_add(1, Ordering::Relaxed);
                                    }
                                    None => {}
                                }
                            }
                            Incoming::Received { pkid, ok } => {
                                let i = log.pending.iter().position(|p| p.pkid == pkid);
                                if ok {
                                    if let Some(i) = i {
                                        log.pending[i].rec = true;
                                    }
                                    buf.extend_from_slice(&[0x62, 0x02]);
                                    buf.extend_from_slice(&pkid.to_be_bytes());
                                } else if let Some(i) = i {
                                    log.pending.remove(i);
                                    counters.errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Incoming::Disconnect => {
                                self.lost_connection(&counters, &mut up, &mut log);
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
                _ = gate.changed(), if !gate_open => {}
                _ = release.changed() => break,
            }
        }
        // Due and not written: still queued, or held back by the schedule.
        let due = self.due_by(start, Instant::now());
        out.dropped.unsent =
            due.saturating_sub(m) + log.queue.iter().filter(|q| q.again.is_none()).count() as u64;
        if up {
            counters.connections.fetch_sub(1, Ordering::Relaxed);
            let _ = tokio::time::timeout(Duration::from_secs(2), idle::close(stream)).await;
        }
        out
    }

    /// The connection is gone. QoS 1/2 messages awaiting acknowledgement go back to
    /// the front of the queue, in order, to be written again on the next connection.
    fn lost_connection(&self, counters: &LoadCounters, up: &mut bool, log: &mut Backlog) {
        if *up {
            *up = false;
            counters.connections.fetch_sub(1, Ordering::Relaxed);
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        while let Some(p) = log.pending.pop_back() {
            log.queue.push_front(Queued {
                m: p.m,
                again: Some((p.pkid, p.rec)),
            });
        }
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
