//! What one `twin load sub` subscriber counts: every message, and for timed ones (with
//! the load header) each publisher's `seq` stream and the latency from its send.

use crate::load::payload::decode;
use crate::load::report::SubCounts;
use crate::load::sampler::LoadCounters;
use crate::load::subscriber::Batch;
use crate::measure::{SeqTally, latency_histogram};
use crate::wire::unix_us;
use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// One subscriber's counts.
pub(crate) struct Tally {
    /// Per publisher: its `seq` tally and the lowest `seq` seen (where its gaps start).
    per_publisher: HashMap<u32, (SeqTally, u64)>,
    /// `received` and `untimed` as they come; the rest at [`Tally::add_to`].
    counts: SubCounts,
    /// Latency of distinct timed messages from their send, µs.
    latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            per_publisher: HashMap::new(),
            counts: SubCounts::default(),
            latency: latency_histogram(),
        }
    }
}

impl Tally {
    /// Count one payload received at `now` (µs); its latency when it is a distinct
    /// timed one.
    fn record(&mut self, payload: &[u8], now: u64) -> Option<u64> {
        self.counts.received += 1;
        let Some((publisher, seq, _, sent)) = decode(payload) else {
            self.counts.untimed += 1;
            return None;
        };
        let (tally, low) = self
            .per_publisher
            .entry(publisher)
            .or_insert_with(|| (SeqTally::default(), seq));
        *low = (*low).min(seq);
        if tally.record(seq).duplicate {
            return None;
        }
        let lat = now.saturating_sub(sent).max(1);
        self.latency.saturating_record(lat);
        Some(lat)
    }

    /// Add this subscriber's counts and latency into the run's.
    pub fn add_to(&self, counts: &mut SubCounts, latency: &mut Histogram<u64>) {
        counts.received += self.counts.received;
        counts.untimed += self.counts.untimed;
        for (tally, low) in self.per_publisher.values() {
            counts.distinct += tally.received;
            counts.duplicates += tally.duplicates;
            counts.out_of_order += tally.out_of_order;
            counts.gaps += tally.gaps_from(*low);
        }
        let _ = latency.add(&self.latency);
    }

    /// The publishers seen.
    pub fn publishers(&self) -> impl Iterator<Item = u32> + '_ {
        self.per_publisher.keys().copied()
    }
}

/// What all subscribers of a run count into besides their own tally.
pub(crate) struct SharedTally {
    /// `received` for the interval lines.
    pub counters: Arc<LoadCounters>,
    /// The interval's latency, taken by the sampler.
    pub interval: Arc<Mutex<Histogram<u64>>>,
    /// Stop after this many messages.
    pub count: Option<u64>,
}

impl SharedTally {
    /// Count one read's payloads into `tally`; `Break` once it has `count`.
    pub fn count(&self, tally: &Mutex<Tally>, batch: Batch<'_>) -> ControlFlow<()> {
        let Ok(mut t) = tally.lock() else {
            return ControlFlow::Break(());
        };
        let now = unix_us();
        let mut latencies = Vec::new();
        let mut flow = ControlFlow::Continue(());
        for payload in batch.iter() {
            if self.count.is_some_and(|c| t.counts.received >= c) {
                flow = ControlFlow::Break(());
                break;
            }
            self.counters.received.fetch_add(1, Ordering::Relaxed);
            latencies.extend(t.record(payload, now));
        }
        if self.count.is_some_and(|c| t.counts.received >= c) {
            flow = ControlFlow::Break(());
        }
        if let Ok(mut h) = self.interval.lock() {
            for lat in latencies {
                h.saturating_record(lat);
            }
        }
        flow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::payload::encode;

    #[test]
    fn a_subscriber_counts_up_to_its_count_and_tallies_each_publisher() {
        // Publisher 1: seq 0, 2, 2 (a duplicate); publisher 2: seq 5; one untimed payload.
        let payloads = [
            encode(1, 0, 0, 0, 0),
            encode(1, 2, 0, 0, 0),
            encode(1, 2, 0, 0, 0),
            encode(2, 5, 0, 0, 0),
            b"hello".to_vec(),
        ];
        let buf: Vec<u8> = payloads.concat();
        let mut ranges = Vec::new();
        let mut at = 0;
        for p in &payloads {
            ranges.push(at..at + p.len());
            at += p.len();
        }
        let shared = |count| SharedTally {
            counters: Arc::default(),
            interval: Arc::new(Mutex::new(latency_histogram())),
            count,
        };
        let all = shared(None);
        let tally = Mutex::new(Tally::default());
        assert!(all.count(&tally, Batch::of(&buf, &ranges)).is_continue());
        let (mut c, mut h) = (SubCounts::default(), latency_histogram());
        tally.lock().unwrap().add_to(&mut c, &mut h);
        assert_eq!(
            (c.received, c.distinct, c.duplicates, c.untimed),
            (5, 3, 1, 1)
        );
        // Seq 1 of publisher 1 is missing; publisher 2 starts at 5, so nothing is.
        assert_eq!((c.gaps, c.out_of_order), (1, 0));
        assert_eq!(h.len(), 3);
        assert_eq!(all.counters.received.load(Ordering::Relaxed), 5);
        // With a count of 2 the subscriber stops after two, in the middle of the read.
        let two = shared(Some(2));
        let tally = Mutex::new(Tally::default());
        assert!(two.count(&tally, Batch::of(&buf, &ranges)).is_break());
        assert_eq!(tally.lock().unwrap().counts.received, 2);
        assert_eq!(two.counters.received.load(Ordering::Relaxed), 2);
    }
}
