//! A publishing session once connected: one pass of its loop admits what fell due,
//! writes what the in-flight window allows in one call (`outgoing`), reconnects when
//! the connection is gone, and otherwise waits for the socket (`incoming`), the next due
//! message, the ping or the gate.

use crate::load::buffer::{BufferPolicy, Dropped};
use crate::load::codec::ack::PINGREQ;
use crate::load::codec::connack::Connack;
use crate::load::codec::pub_incoming::PubIncoming;
use crate::load::dial::{self, Stream};
use crate::load::publisher::backlog::{Backlog, Queued};
use crate::load::publisher::histograms::RunHistograms;
use crate::load::publisher::session::{PubOutcome, PubSession};
use crate::load::sampler::LoadCounters;
use crate::load::steady::Steady;
use crate::wire::unix_us;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::AsyncReadExt as _;
use tokio::sync::watch;
use tokio::time::Instant;

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
            payload_bytes: 0,
        };
        let permit = connecting.acquire_owned().await.ok();
        let t0 = Instant::now();
        let first = self.first_open().await;
        drop(permit);
        let Some((stream, connack)) = first else {
            return out;
        };
        out.connected = true;
        out.connect_us = Some((t0.elapsed().as_micros() as u64).max(1));
        counters.connections.fetch_add(1, Ordering::Relaxed);
        let mut live = Live::new(&self, stream, out, counters, hists);
        live.honour(&connack);
        while !stop.load(Ordering::Relaxed) && !*release.borrow() && !self.observed.stopped() {
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
    pub(super) s: &'s PubSession,
    /// The run's totals.
    pub(super) counters: Arc<LoadCounters>,
    /// The run's histograms.
    pub(super) hists: Arc<RunHistograms>,
    /// What the session did, returned at the end.
    pub(super) out: PubOutcome,
    /// The connection, while `up`.
    pub(super) stream: Stream,
    pub(super) up: bool,
    /// Open while the counting subscribers are all subscribed.
    pub(super) gate: watch::Receiver<bool>,
    /// When the schedule started (monotonic and Unix µs).
    pub(super) start: Instant,
    pub(super) start_us: u64,
    /// The next message of the schedule to admit.
    pub(super) m: u64,
    /// Not written yet, and awaiting acknowledgement.
    pub(super) log: Backlog,
    /// The next write; `taken` holds the packet ids it gives the queue's front.
    pub(super) buf: Vec<u8>,
    pub(super) taken: Vec<u16>,
    /// One payload, reused.
    pub(super) payload: Vec<u8>,
    /// What the socket gave; `rlen` bytes not parsed yet.
    pub(super) rbuf: Vec<u8>,
    pub(super) rlen: usize,
    /// Packets of the current read (kept for its allocation).
    pub(super) incoming: Vec<PubIncoming>,
    /// Payload bytes of the first sends in `buf`, counted once it is written.
    pub(super) pending_bytes: u64,
    /// Schedule lags and ack latencies, recorded a batch per lock.
    pub(super) lags: Vec<u64>,
    pub(super) acks: Vec<u64>,
    /// When it last wrote, for the keep-alive.
    pub(super) last_write: Instant,
    /// The keep-alive of this connection: asked for, or the broker's Server Keep Alive.
    pub(super) keep_alive: Duration,
    /// The in-flight window of this connection: `inflight`, or the broker's Receive
    /// Maximum when lower [MQTT-3.3.4-7].
    pub(super) window: usize,
    /// Waits between reconnection attempts, and the kicks in a row.
    pub(super) steady: Steady,
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
            pending_bytes: 0,
            lags: Vec::new(),
            acks: Vec::new(),
            last_write: Instant::now(),
            keep_alive: s.keep_alive,
            window: s.inflight,
            steady: Steady::default(),
        }
    }

    /// A connection opened with this CONNACK: keep its keep-alive and window.
    pub(super) fn honour(&mut self, c: &Connack) {
        self.keep_alive = c
            .server_keep_alive
            .map_or(self.s.keep_alive, |k| Duration::from_secs(k.into()));
        self.window = c
            .receive_maximum
            .map_or(self.s.inflight, |r| self.s.inflight.min(r.into()));
        self.steady.connected();
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
    pub(super) fn window_open(&self, k: usize) -> bool {
        self.s.qos == 0 || self.log.pending.len() + k < self.window
    }

    /// Connected, the gate open, and room in the window.
    pub(super) fn writable(&self) -> bool {
        self.up && *self.gate.borrow() && self.window_open(0)
    }

    /// Connect again: full jitter over an exponential backoff (which starts over only
    /// once a connection has stayed up, `steady`), then a slot from the run's pacer, so
    /// a fleet coming back to a restarted broker arrives as a ramp.
    async fn reconnect(&mut self, release: &mut watch::Receiver<bool>) {
        let s = self.s;
        if s.observed.stopped() {
            return;
        }
        let wait = self.steady.next_wait();
        let permit = tokio::select! {
            p = async {
                tokio::time::sleep(wait).await;
                s.pacer.wait().await
            } => p,
            _ = release.changed() => return,
        };
        let attempt = tokio::time::timeout(s.connect_timeout, s.dial.open()).await;
        drop(permit);
        let c = self.counters.clone();
        match attempt {
            Ok(Ok((stream, connack))) => {
                self.stream = stream;
                self.up = true;
                self.honour(&connack);
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
        let ping_every = self.keep_alive / 2;
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

    /// The connection is gone (by a DISCONNECT with reason `kick`, when there was one).
    /// QoS 1/2 messages awaiting acknowledgement go back to the front of the queue, in
    /// order, to be written again on the next connection. The same kick again and again
    /// before the session ever stayed up ends the run.
    pub(super) fn lost_connection(&mut self, kick: Option<u8>) {
        if self.up {
            self.up = false;
            self.counters.connections.fetch_sub(1, Ordering::Relaxed);
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            if let Some((code, times)) = self.steady.lost(kick) {
                self.s.observed.kicked(code, times);
            }
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
