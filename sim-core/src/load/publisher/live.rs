//! A publishing session once connected: one pass of its loop admits what fell due,
//! writes what the in-flight window allows in one call, reconnects when the connection
//! is gone, and otherwise waits for the socket, the next due message, the ping or the
//! gate.

use crate::load::buffer::{BufferPolicy, Dropped};
use crate::load::codec::ack::{PINGREQ, pubrel};
use crate::load::codec::pub_incoming::{self, PubIncoming};
use crate::load::codec::publish::{DUP, publish_packet};
use crate::load::dial::{self, Stream};
use crate::load::payload::{encode_into, encode_json_into};
use crate::load::publisher::backlog::{Backlog, Pending, Queued};
use crate::load::publisher::histograms::{RunHistograms, record_all};
use crate::load::publisher::session::{PubOutcome, PubSession};
use crate::load::sampler::LoadCounters;
use crate::transport::backoff::Backoff;
use crate::wire::unix_us;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::watch;
use tokio::time::Instant;

/// Write at most this much in one call (then read, then go on).
const BATCH_BYTES: usize = 64 * 1024;

impl PubSession {
    /// Publish the schedule; then wait for outstanding acknowledgements until `release`.
    pub async fn run(
        self,
        counters: Arc<LoadCounters>,
        stop: Arc<AtomicBool>,
        mut release: watch::Receiver<bool>,
        connecting: Arc<tokio::sync::Semaphore>,
        hists: Arc<RunHistograms>,
    ) -> PubOutcome {
        let mut out = PubOutcome {
            sent: vec![0; self.topics.len()],
            connected: false,
            connect_us: None,
            start: None,
            dropped: Dropped::default(),
        };
        let permit = connecting.acquire_owned().await.ok();
        let t0 = Instant::now();
        let first = self.first_open().await;
        drop(permit);
        let Some(stream) = first else {
            return out;
        };
        out.connected = true;
        out.connect_us = Some((t0.elapsed().as_micros() as u64).max(1));
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let mut live = Live::new(&self, stream, out, counters, hists);
        while !stop.load(Ordering::Relaxed) && !*release.borrow() {
            if live.pass(&mut release).await.is_break() {
                break;
            }
        }
        live.end().await
    }
}

/// A connected session's state.
pub(crate) struct Live<'s> {
    /// What it publishes, on what schedule.
    s: &'s PubSession,
    /// The run's totals.
    counters: Arc<LoadCounters>,
    /// The run's histograms.
    hists: Arc<RunHistograms>,
    /// What the session did, returned at the end.
    out: PubOutcome,
    /// The connection, while `up`.
    stream: Stream,
    up: bool,
    /// Open while the counting subscribers are all subscribed.
    gate: watch::Receiver<bool>,
    /// When the schedule started (monotonic and Unix µs).
    start: Instant,
    start_us: u64,
    /// The next message of the schedule to admit.
    m: u64,
    /// Not written yet, and awaiting acknowledgement.
    log: Backlog,
    /// The next write; `taken` holds the packet ids it gives the queue's front.
    buf: Vec<u8>,
    taken: Vec<u16>,
    /// One payload, reused.
    payload: Vec<u8>,
    /// What the socket gave; `rlen` bytes not parsed yet.
    rbuf: Vec<u8>,
    rlen: usize,
    /// Packets of the current read (kept for its allocation).
    incoming: Vec<PubIncoming>,
    /// Schedule lags and ack latencies, recorded a batch per lock.
    lags: Vec<u64>,
    acks: Vec<u64>,
    /// When it last wrote, for the keep-alive.
    last_write: Instant,
    /// Waits between reconnection attempts.
    backoff: Backoff,
}

impl<'s> Live<'s> {
    /// Start the schedule now, on `stream`.
    pub fn new(
        s: &'s PubSession,
        stream: Stream,
        mut out: PubOutcome,
        counters: Arc<LoadCounters>,
        hists: Arc<RunHistograms>,
    ) -> Live<'s> {
        let start = Instant::now();
        out.start = Some(start);
        Live {
            s,
            counters,
            hists,
            out,
            stream,
            up: true,
            gate: s.gate.clone(),
            start,
            start_us: unix_us(),
            m: 0,
            log: Backlog::new(),
            buf: Vec::with_capacity(1024),
            taken: Vec::new(),
            payload: Vec::new(),
            rbuf: vec![0u8; 2048],
            rlen: 0,
            incoming: Vec::new(),
            lags: Vec::new(),
            acks: Vec::new(),
            last_write: Instant::now(),
            backoff: Backoff::default(),
        }
    }

    /// One pass of the session's loop; `Break` when released.
    pub async fn pass(&mut self, release: &mut watch::Receiver<bool>) -> ControlFlow<()> {
        let now = Instant::now();
        let open = self.up && *self.gate.borrow();
        self.admit(now, open && self.window_open(0));
        let k = if open { self.encode(unix_us()) } else { 0 };
        if !self.buf.is_empty() && !self.flush(k, now).await {
            return ControlFlow::Continue(());
        }
        if !self.up {
            self.reconnect(release).await;
            return ControlFlow::Continue(());
        }
        if self.m >= self.s.messages && self.log.queue.is_empty() && self.log.pending.is_empty() {
            // Done; hold the session until the run releases it.
            return tokio::select! {
                _ = release.changed() => ControlFlow::Break(()),
                _ = tokio::time::sleep(Duration::from_millis(100)) => ControlFlow::Continue(()),
            };
        }
        if self.writable() && !self.log.queue.is_empty() {
            // More than one write's worth was due: go on after letting others run.
            tokio::task::yield_now().await;
            return ControlFlow::Continue(());
        }
        self.wait(release).await
    }

    /// Room in the in-flight window beside `k` messages about to be written.
    fn window_open(&self, k: usize) -> bool {
        self.s.qos == 0 || self.log.pending.len() + k < self.s.inflight
    }

    /// Connected, the gate open, and room in the window.
    fn writable(&self) -> bool {
        self.up && *self.gate.borrow() && self.window_open(0)
    }

    /// The buffer has no room for a message of `bytes`.
    fn full(&self, bytes: usize) -> bool {
        self.log.queue.len() >= self.s.buffer
            || (self.log.bytes + bytes > self.s.buffer_bytes && !self.log.queue.is_empty())
    }

    /// Device index within the session of message `m`.
    fn device_of(&self, m: u64) -> usize {
        (m % self.s.topics.len().max(1) as u64) as usize
    }

    /// A message not sent: count it, `offline` or for a full buffer.
    fn drop_one(&mut self, offline: bool) {
        if offline {
            self.out.dropped.offline += 1;
        } else {
            self.out.dropped.buffer_full += 1;
        }
        self.counters.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Admit what has fallen due by `now` into the queue, by the buffer's policy when
    /// the session cannot write it now.
    fn admit(&mut self, now: Instant, writable: bool) {
        let open = self.up && *self.gate.borrow();
        while self.m < self.s.messages
            && self.start + Duration::from_micros(self.s.due_us(self.m)) <= now
        {
            if self.s.qos == 0 && !open {
                // QoS 0 is fire and forget: nothing to keep it for.
                self.drop_one(true);
                self.m += 1;
                continue;
            }
            let bytes = self.s.msg_bytes(self.device_of(self.m));
            if self.full(bytes) {
                if writable {
                    // Only behind: the queue drains as fast as the socket takes it.
                    break;
                }
                match self.s.policy {
                    BufferPolicy::BlockDevice => break,
                    BufferPolicy::DropNewest => {
                        self.drop_one(false);
                        self.m += 1;
                        continue;
                    }
                    BufferPolicy::DropOldest => {
                        self.drop_one(false);
                        if !self.drop_oldest() {
                            // Only re-sends are queued: they stay, the new one goes.
                            self.m += 1;
                            continue;
                        }
                    }
                }
            }
            self.log.queue.push_back(Queued {
                m: self.m,
                again: None,
            });
            self.log.bytes += bytes;
            self.m += 1;
        }
    }

    /// Remove the oldest new (never written) message from the queue; `false` when
    /// there is none.
    fn drop_oldest(&mut self) -> bool {
        let Some(i) = self.log.queue.iter().position(|q| q.again.is_none()) else {
            return false;
        };
        if let Some(q) = self.log.queue.remove(i) {
            self.log.bytes -= self.s.msg_bytes(self.device_of(q.m));
        }
        true
    }

    /// Encode what the window allows from the queue's front into `buf`; how many
    /// queued messages it took.
    fn encode(&mut self, now_us: u64) -> usize {
        let mut k = 0;
        let mut worst_lag = 0;
        while let Some(q) = self.log.queue.get(k).copied() {
            if !self.window_open(k) || self.buf.len() >= BATCH_BYTES {
                break;
            }
            let pkid = match q.again {
                Some((pkid, true)) => {
                    // QoS 2 received by the broker: only the release is owed.
                    self.buf.extend_from_slice(&pubrel(pkid));
                    self.taken.push(pkid);
                    k += 1;
                    continue;
                }
                Some((pkid, false)) => pkid,
                None if self.s.qos > 0 => self.log.free_pkid(&self.taken),
                None => 0,
            };
            let Some(lag) = self.encode_publish(q, pkid, now_us) else {
                break;
            };
            worst_lag = worst_lag.max(lag);
            self.taken.push(pkid);
            k += 1;
        }
        if worst_lag > 0 {
            self.counters.lag_us.fetch_max(worst_lag, Ordering::Relaxed);
        }
        k
    }

    /// Append one PUBLISH of `q` with `pkid`; its schedule lag (0 for a re-send), or
    /// `None` when it does not encode.
    fn encode_publish(&mut self, q: Queued, pkid: u16, now_us: u64) -> Option<u64> {
        let s = self.s;
        let j = self.device_of(q.m);
        let intended = self.start_us + s.due_us(q.m);
        let mut lag = 0;
        if q.again.is_none() {
            lag = now_us.saturating_sub(intended);
            self.lags.push(lag);
        }
        let (device, seq) = (
            s.first_device + j as u32,
            q.m / s.topics.len().max(1) as u64,
        );
        self.payload.clear();
        match &s.bodies {
            Some(b) => encode_json_into(&mut self.payload, device, seq, intended, now_us, &b[j]),
            None => encode_into(&mut self.payload, device, seq, intended, now_us, s.size),
        }
        let at = self.buf.len();
        let topic = &s.topics[j];
        publish_packet(
            &mut self.buf,
            topic,
            s.qos,
            s.retain,
            pkid,
            s.v5,
            &self.payload,
        )
        .ok()?;
        if q.again.is_some() {
            // §3.3.1.1: DUP on a re-delivery.
            self.buf[at] |= DUP;
        }
        Some(lag)
    }

    /// Write `buf` in one call; the `k` messages it took leave the queue (QoS 1/2 ones
    /// for the pending window). `false` when the connection is gone.
    async fn flush(&mut self, k: usize, now: Instant) -> bool {
        let wrote = self.stream.write_all(&self.buf).await;
        self.buf.clear();
        if wrote.is_err() {
            // Written into a dead socket: the queue keeps them, to go again.
            self.taken.clear();
            self.lags.clear();
            self.lost_connection();
            return false;
        }
        self.last_write = Instant::now();
        record_all(&self.hists.lag, &mut self.lags);
        let (mut fresh, mut again) = (0u64, 0u64);
        let qos = self.s.qos;
        for (q, pkid) in self.log.queue.drain(..k).zip(self.taken.drain(..)) {
            let j = (q.m % self.s.topics.len().max(1) as u64) as usize;
            match q.again {
                None => {
                    self.out.sent[j] += 1;
                    fresh += 1;
                    self.log.bytes -= self.s.msg_bytes(j);
                }
                Some(_) => again += 1,
            }
            if qos > 0 {
                self.log.pending.push_back(Pending {
                    pkid,
                    at: now,
                    m: q.m,
                    rec: q.again.is_some_and(|(_, rec)| rec),
                });
            }
        }
        self.counters.sent.fetch_add(fresh, Ordering::Relaxed);
        if again > 0 {
            self.counters
                .retransmitted
                .fetch_add(again, Ordering::Relaxed);
        }
        true
    }

    /// Connect again: full jitter over an exponential backoff, then a slot from the
    /// run's pacer, so a fleet coming back to a restarted broker arrives as a ramp.
    async fn reconnect(&mut self, release: &mut watch::Receiver<bool>) {
        let s = self.s;
        let wait = self.backoff.next_wait();
        let permit = tokio::select! {
            p = async {
                tokio::time::sleep(wait).await;
                s.pacer.wait().await
            } => p,
            _ = release.changed() => return,
        };
        let attempt = tokio::time::timeout(s.connect_timeout, s.dial.open()).await;
        drop(permit);
        let c = &self.counters;
        match attempt {
            Ok(Ok(stream)) => {
                self.stream = stream;
                self.up = true;
                self.backoff.reset();
                c.connections.fetch_add(1, Ordering::Relaxed);
                c.reconnects.fetch_add(1, Ordering::Relaxed);
                self.rlen = 0;
            }
            _ => {
                c.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Wait for the socket, the next due message (unless it could only wait behind a
    /// full queue that holds it back), the ping, or the gate; `Break` when released.
    async fn wait(&mut self, release: &mut watch::Receiver<bool>) -> ControlFlow<()> {
        let s = self.s;
        let blocked = self.m < s.messages
            && self.full(s.msg_bytes(self.device_of(self.m)))
            && (self.writable() || s.policy == BufferPolicy::BlockDevice);
        let next_due = (self.m < s.messages && !blocked)
            .then(|| self.start + Duration::from_micros(s.due_us(self.m)));
        let ping_every = s.keep_alive / 2;
        let ping_at = self.last_write + ping_every;
        let gate_open = *self.gate.borrow();
        tokio::select! {
            r = self.stream.read(&mut self.rbuf[self.rlen..]) => self.take_in(r),
            _ = tokio::time::sleep_until(next_due.unwrap_or(ping_at)), if next_due.is_some() => {}
            _ = tokio::time::sleep_until(ping_at), if !ping_every.is_zero() => {
                self.buf.extend_from_slice(&PINGREQ);
            }
            _ = self.gate.changed(), if !gate_open => {}
            _ = release.changed() => return ControlFlow::Break(()),
        }
        ControlFlow::Continue(())
    }

    /// Handle what a read gave: acknowledgements, PUBRECs to answer, DISCONNECT.
    fn take_in(&mut self, read: std::io::Result<usize>) {
        match read {
            Ok(0) | Err(_) => return self.lost_connection(),
            Ok(n) => self.rlen += n,
        }
        let mut incoming = std::mem::take(&mut self.incoming);
        let Ok(used) = pub_incoming::parse(&self.rbuf[..self.rlen], &mut incoming) else {
            incoming.clear();
            self.incoming = incoming;
            return self.lost_connection();
        };
        self.rbuf.copy_within(used..self.rlen, 0);
        self.rlen -= used;
        if self.rlen == self.rbuf.len() {
            // A packet larger than the buffer: grow for it.
            self.rbuf.resize(self.rbuf.len() * 2, 0);
        }
        for p in incoming.drain(..) {
            self.answer(p);
        }
        self.incoming = incoming;
        record_all(&self.hists.ack, &mut self.acks);
    }

    /// One packet from the broker.
    fn answer(&mut self, p: PubIncoming) {
        let c = &self.counters;
        let pending = &mut self.log.pending;
        match p {
            PubIncoming::Done { pkid, ok } => {
                let done = pending
                    .iter()
                    .position(|p| p.pkid == pkid)
                    .and_then(|i| pending.remove(i));
                match done {
                    Some(p) if ok => {
                        self.acks.push(p.at.elapsed().as_micros() as u64);
                        c.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(_) => {
                        c.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {}
                }
            }
            PubIncoming::Received { pkid, ok } => {
                let i = pending.iter().position(|p| p.pkid == pkid);
                if ok {
                    if let Some(i) = i {
                        pending[i].rec = true;
                    }
                    self.buf.extend_from_slice(&pubrel(pkid));
                } else if let Some(i) = i {
                    pending.remove(i);
                    c.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            PubIncoming::Disconnect => self.lost_connection(),
            PubIncoming::Other => {}
        }
    }

    /// The connection is gone. QoS 1/2 messages awaiting acknowledgement go back to
    /// the front of the queue, in order, to be written again on the next connection.
    fn lost_connection(&mut self) {
        if self.up {
            self.up = false;
            self.counters.connections.fetch_sub(1, Ordering::Relaxed);
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        while let Some(p) = self.log.pending.pop_back() {
            self.log.queue.push_front(Queued {
                m: p.m,
                again: Some((p.pkid, p.rec)),
            });
        }
    }

    /// Count what fell due and was not written, close, and say what the session did.
    pub async fn end(mut self) -> PubOutcome {
        // Due and not written: still queued, or held back by the schedule.
        let due = self.s.due_by(self.start, Instant::now());
        let queued = self.log.queue.iter().filter(|q| q.again.is_none()).count() as u64;
        self.out.dropped.unsent = due.saturating_sub(self.m) + queued;
        if self.up {
            self.counters.connections.fetch_sub(1, Ordering::Relaxed);
            let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(self.stream)).await;
        }
        self.out
    }
}
