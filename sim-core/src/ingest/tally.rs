//! What ingest keeps of one device: its `seq` accounting and per-reading statistics.

use crate::measure::{SeqEvent, SeqTally};

/// Running min/mean/max of one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    /// Samples.
    pub count: u64,
    /// Sum of samples.
    pub sum: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// The latest sample.
    pub last: f64,
}

impl Stat {
    fn new(v: f64) -> Stat {
        Stat {
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.last = v;
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Mean of the samples.
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// What ingest saw of one device: its `seq` accounting (a [`SeqTally`]) and what its
/// messages said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceTally {
    /// Received, duplicates, reordering, highest `seq`.
    pub seq: SeqTally,
    /// Per-reading statistics, in first-seen order.
    pub readings: Vec<(String, Stat)>,
    /// Last status message: `Some(true)` online, `Some(false)` offline.
    pub online: Option<bool>,
    /// Sim time (payload timestamp) of the latest message.
    pub last_ts: Option<f64>,
    /// Attach mode: the first `seq` seen (earlier ones were sent before attaching).
    pub first_seq: Option<u64>,
}

impl DeviceTally {
    /// Count one message; says what its `seq` showed. A duplicate's readings are not
    /// counted again.
    pub fn record(&mut self, seq: u64, readings: &[(String, f64)]) -> SeqEvent {
        let ev = self.seq.record(seq);
        if ev.duplicate {
            return ev;
        }
        for (name, v) in readings {
            let v = *v;
            match self.readings.iter_mut().find(|(n, _)| n == name) {
                Some((_, s)) => s.add(v),
                None => self.readings.push((name.clone(), Stat::new(v))),
            }
        }
        ev
    }

    /// Sequence numbers below the highest seen (and from the first seen, when attached)
    /// that never arrived.
    pub fn gaps(&self) -> u64 {
        self.seq.gaps_from(self.first_seq.unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_counts_duplicates_reordering_and_gaps() {
        let mut t = DeviceTally::default();
        assert_eq!(t.record(0, &[("t".into(), 1.0)]), SeqEvent::default());
        assert_eq!(t.record(2, &[("t".into(), 3.0)]).gap, 1);
        assert!(t.record(1, &[("t".into(), 2.0)]).out_of_order);
        assert!(t.record(2, &[("t".into(), 9.0)]).duplicate);
        assert_eq!(t.record(5, &[]).gap, 2);
        assert_eq!(
            (t.seq.received, t.seq.duplicates, t.seq.out_of_order),
            (4, 1, 1)
        );
        assert_eq!(t.gaps(), 2); // 3 and 4
        let s = t.readings[0].1;
        assert_eq!((s.count, s.min, s.max, s.mean()), (3, 1.0, 3.0, 2.0));
    }
}
