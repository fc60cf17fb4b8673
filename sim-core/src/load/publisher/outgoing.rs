//! A connected publishing session's outgoing side: admitting what fell due into the
//! buffer (by its policy), encoding what the in-flight window allows, writing it in one
//! call.

use crate::load::buffer::BufferPolicy;
use crate::load::codec::ack::pubrel;
use crate::load::codec::publish::{DUP, publish_packet};
use crate::load::payload::{encode_into, encode_json_into};
use crate::load::publisher::backlog::{Pending, Queued};
use crate::load::publisher::histograms::record_all;
use crate::load::publisher::live::Live;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tokio::time::Instant;

/// Write at most this much in one call (then read, then go on).
const BATCH_BYTES: usize = 64 * 1024;

impl Live<'_> {
    /// The buffer has no room for a message of `bytes`.
    pub(super) fn full(&self, bytes: usize) -> bool {
        self.log.queue.len() >= self.s.buffer
            || (self.log.bytes + bytes > self.s.buffer_bytes && !self.log.queue.is_empty())
    }

    /// Device index within the session of message `m`.
    pub(super) fn device_of(&self, m: u64) -> usize {
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
    pub(super) fn admit(&mut self, now: Instant, writable: bool) {
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
    pub(super) fn encode(&mut self, now_us: u64) -> usize {
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
        // What the window or the batch left waiting is late too: a broker that stops
        // taking messages shows as a growing lag, not as no lag for want of publishes.
        if let Some(q) = self.log.queue.get(k)
            && q.again.is_none()
        {
            let intended = self.start_us + self.s.due_us(q.m);
            worst_lag = worst_lag.max(now_us.saturating_sub(intended));
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
        } else {
            self.pending_bytes += self.payload.len() as u64;
        }
        Some(lag)
    }

    /// Write `buf` in one call; the `k` messages it took leave the queue (QoS 1/2 ones
    /// for the pending window). `false` when the connection is gone.
    pub(super) async fn flush(&mut self, k: usize, now: Instant) -> bool {
        let wrote = self.stream.write_all(&self.buf).await;
        self.buf.clear();
        let bytes = std::mem::take(&mut self.pending_bytes);
        if wrote.is_err() {
            // Written into a dead socket: the queue keeps them, to go again.
            self.taken.clear();
            self.lags.clear();
            self.lost_connection(None);
            return false;
        }
        self.last_write = Instant::now();
        self.out.payload_bytes += bytes;
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
}
