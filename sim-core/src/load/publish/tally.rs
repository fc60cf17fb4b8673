//! What the counting subscribers of a `twin load pub` run count, by device.

use crate::load::payload::decode;
use crate::load::subscriber::Batch;
use crate::measure::{SeqTally, latency_histogram};
use crate::report::MessageCounts;
use crate::wire::unix_us;
use hdrhistogram::Histogram;

/// The counting subscribers' state, shared by all of them.
pub(crate) struct SubState {
    /// Global index of this shard's first device.
    pub dev_base: usize,
    /// Per device of this shard, by index from `dev_base`.
    pub tallies: Vec<SeqTally>,
    /// Latency from the actual send, µs.
    pub actual: Histogram<u64>,
    /// Latency from the intended send (coordinated omission corrected), µs.
    pub intended: Histogram<u64>,
    /// `actual` since the sampler last took it.
    pub interval: Histogram<u64>,
    /// Payloads without the load header.
    pub malformed: u64,
    /// Messages of devices outside this shard.
    pub foreign: u64,
}

impl SubState {
    /// Nothing counted yet, for `devices` devices from `dev_base`.
    pub fn new(dev_base: usize, devices: usize) -> SubState {
        SubState {
            dev_base,
            tallies: vec![SeqTally::default(); devices],
            actual: latency_histogram(),
            intended: latency_histogram(),
            interval: latency_histogram(),
            malformed: 0,
            foreign: 0,
        }
    }

    /// Count one read's payloads; returns how many were new (not duplicates).
    pub fn count(&mut self, batch: Batch<'_>) -> u64 {
        let now = unix_us();
        let mut fresh = 0;
        for payload in batch.iter() {
            let Some((publisher, seq, intended, sent)) = decode(payload) else {
                self.malformed += 1;
                continue;
            };
            let Some(d) = (publisher as usize)
                .checked_sub(self.dev_base)
                .filter(|d| *d < self.tallies.len())
            else {
                self.foreign += 1;
                continue;
            };
            if !self.tallies[d].record(seq).duplicate {
                let lat = now.saturating_sub(sent).max(1);
                self.actual.saturating_record(lat);
                self.interval.saturating_record(lat);
                self.intended
                    .saturating_record(now.saturating_sub(intended).max(1));
                fresh += 1;
            }
        }
        fresh
    }

    /// The interval's latency, reset for the next.
    pub fn take_interval(&mut self) -> Histogram<u64> {
        let h = self.interval.clone();
        self.interval.reset();
        h
    }

    /// The message accounting against what each device sent.
    pub fn messages(&self, sent: &[u64], dropped_at_source: u64) -> MessageCounts {
        let mut m = MessageCounts {
            dropped_at_source,
            malformed: self.malformed,
            foreign: self.foreign,
            ..MessageCounts::default()
        };
        for (t, &s) in self.tallies.iter().zip(sent) {
            m.sent += s;
            m.received += t.received;
            m.lost += s.saturating_sub(t.received);
            m.duplicates += t.duplicates;
            m.out_of_order += t.out_of_order;
        }
        m
    }

    /// Devices at least one of whose messages came back.
    pub fn devices_seen(&self) -> u64 {
        self.tallies.iter().filter(|t| t.received > 0).count() as u64
    }
}
