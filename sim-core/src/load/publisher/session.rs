//! One publishing session: its schedule, its socket, its in-flight window.

use crate::load::buffer::{BufferPolicy, Dropped};
use crate::load::codec::ack::{PINGREQ, pubrel};
use crate::load::codec::pub_incoming::{self, PubIncoming};
use crate::load::codec::publish::{DUP, publish_packet};
use crate::load::dial::{self, Dial, Stream};
use crate::load::error::LinkError;
use crate::load::pacer::Pacer;
use crate::load::payload::{HEADER, encode_into, encode_json_into};
use crate::load::publisher::backlog::{Backlog, Pending, Queued};
use crate::load::publisher::histograms::{RunHistograms, record_all};
use crate::load::sampler::LoadCounters;
use crate::transport::backoff::Backoff;
use crate::wire::unix_us;
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

impl PubSession {
    fn due_us(&self, m: u64) -> u64 {
        self.offset_us + m * self.step_us
    }

    /// How much of the buffer a message of device `j` takes.
    fn msg_bytes(&self, j: usize) -> usize {
        self.topics[j].len()
            + match &self.bodies {
                Some(b) => b[j].len() + 64,
                None => self.size.max(HEADER),
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
                Ok(Err(LinkError::Refused { .. } | LinkError::Tls(_))) | Err(_) => return None,
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
        let mut log = Backlog::new();
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
                            buf.extend_from_slice(&pubrel(pkid));
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
                        buf[at] |= DUP;
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
                    let used = match pub_incoming::parse(&rbuf[..rlen], &mut incoming) {
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
                            PubIncoming::Done { pkid, ok } => {
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
                            PubIncoming::Received { pkid, ok } => {
                                let i = log.pending.iter().position(|p| p.pkid == pkid);
                                if ok {
                                    if let Some(i) = i {
                                        log.pending[i].rec = true;
                                    }
                                    buf.extend_from_slice(&pubrel(pkid));
                                } else if let Some(i) = i {
                                    log.pending.remove(i);
                                    counters.errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            PubIncoming::Disconnect => {
                                self.lost_connection(&counters, &mut up, &mut log);
                            }
                            PubIncoming::Other => {}
                        }
                    }
                    record_all(&hists.ack, &mut acks);
                }
                _ = tokio::time::sleep_until(next_due), if next_due < far => {}
                _ = tokio::time::sleep_until(ping_at), if !ping_every.is_zero() => {
                    buf.extend_from_slice(&PINGREQ);
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
            let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(stream)).await;
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
