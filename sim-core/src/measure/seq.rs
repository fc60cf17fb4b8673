//! Per-stream `seq` accounting: which numbers of one publisher's (or one device's)
//! stream arrived, how many twice, how many late.

/// What one `seq` showed when it was counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqEvent {
    /// `seq` seen before.
    pub duplicate: bool,
    /// `seq` below the highest seen.
    pub out_of_order: bool,
    /// `seq` numbers skipped just before this one.
    pub gap: u64,
}

/// How many `seq` numbers below the highest one a tally remembers, one bit each: 8 KiB a
/// stream at most, whatever `seq` a message claims. A message older than that (reordered
/// by more than 65,536 of its stream's messages, or forged) cannot be told from a
/// duplicate, and is counted apart as `out_of_window`.
pub const SEQ_WINDOW: u64 = 1 << 16;

/// The `seq` numbers of one stream: distinct ones received, duplicates, reordering.
///
/// Memory is bounded: a bitmap of the last [`SEQ_WINDOW`] numbers below the highest seen,
/// grown as the stream grows (a short stream costs a few words) and then used as a ring.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeqTally {
    /// Distinct `seq` values received (those older than the window included: they cannot
    /// be checked, and are counted in `out_of_window` as well).
    pub received: u64,
    /// Messages whose `seq` had been received before.
    pub duplicates: u64,
    /// Messages whose `seq` was below the highest already seen.
    pub out_of_order: u64,
    /// Messages whose `seq` was more than [`SEQ_WINDOW`] below the highest seen.
    pub out_of_window: u64,
    /// Highest `seq` seen.
    pub highest_seq: Option<u64>,
    /// One bit per `seq` in the window, at `seq % (64 × len)`: exact duplicates at 1 bit a
    /// message. Its length is a power of two, at most `SEQ_WINDOW / 64` words.
    seen: Vec<u64>,
}

impl SeqTally {
    /// Count one `seq`; says what it showed.
    pub fn record(&mut self, seq: u64) -> SeqEvent {
        let highest = self.highest_seq;
        if highest.is_some_and(|h| seq < h && h - seq >= SEQ_WINDOW) {
            self.received += 1;
            self.out_of_order += 1;
            self.out_of_window += 1;
            return SeqEvent {
                out_of_order: true,
                ..SeqEvent::default()
            };
        }
        if highest.is_none_or(|h| seq > h) {
            self.advance(highest, seq);
        }
        let (word, bit) = self.slot(seq);
        if self.seen[word] & (1 << bit) != 0 {
            self.duplicates += 1;
            return SeqEvent {
                duplicate: true,
                ..SeqEvent::default()
            };
        }
        self.seen[word] |= 1 << bit;
        self.received += 1;
        let mut ev = SeqEvent::default();
        match highest {
            Some(h) if seq < h => {
                self.out_of_order += 1;
                ev.out_of_order = true;
            }
            Some(h) => ev.gap = seq - h - 1,
            None => ev.gap = seq,
        }
        ev
    }

    /// Sequence numbers from `from` up to the highest seen that never arrived.
    pub fn gaps_from(&self, from: u64) -> u64 {
        self.highest_seq.map_or(0, |h| {
            h.saturating_add(1)
                .saturating_sub(from)
                .saturating_sub(self.received)
        })
    }

    /// Bytes the window holds now (at most `SEQ_WINDOW / 8`).
    pub fn window_bytes(&self) -> usize {
        self.seen.len() * 8
    }

    /// The word and bit of `seq` in the window.
    fn slot(&self, seq: u64) -> (usize, u64) {
        let bits = self.seen.len() as u64 * 64;
        let at = seq % bits;
        ((at / 64) as usize, at % 64)
    }

    /// Make `seq` (above `highest`) the new highest: grow the window while the stream is
    /// younger than it, and forget the numbers that fall out of it.
    fn advance(&mut self, highest: Option<u64>, seq: u64) {
        let want_words = (seq / 64 + 1).next_power_of_two().min(SEQ_WINDOW / 64) as usize;
        if self.seen.len() < want_words {
            // The window only grows while it still covers every number from 0 to the
            // highest, where a number's slot is the number itself: a longer ring keeps
            // every bit where it is.
            self.seen.resize(want_words, 0);
        }
        let bits = self.seen.len() as u64 * 64;
        let from = highest.map_or(0, |h| h + 1);
        if seq - from >= bits {
            self.seen.iter_mut().for_each(|w| *w = 0);
        } else {
            for q in from..=seq {
                let (w, b) = self.slot(q);
                self.seen[w] &= !(1 << b);
            }
        }
        self.highest_seq = Some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_duplicates_reordering_and_gaps() {
        let mut t = SeqTally::default();
        assert_eq!(t.record(0), SeqEvent::default());
        assert_eq!(t.record(2).gap, 1);
        assert!(t.record(1).out_of_order);
        assert!(t.record(2).duplicate);
        assert_eq!(t.record(5).gap, 2);
        assert_eq!((t.received, t.duplicates, t.out_of_order), (4, 1, 1));
        assert_eq!(t.highest_seq, Some(5));
        // 3 and 4 are missing.
        assert_eq!(t.gaps_from(0), 2);
        // A stream first seen at 100: only 101 of 100..=102 is missing.
        let mut late = SeqTally::default();
        late.record(100);
        late.record(102);
        assert_eq!(late.gaps_from(100), 1);
    }

    #[test]
    fn a_hostile_seq_costs_at_most_the_window() {
        let mut t = SeqTally::default();
        t.record(0);
        assert_eq!(t.window_bytes(), 8);
        t.record(4_611_686_018_427_387_904);
        t.record(u64::MAX);
        assert!(t.window_bytes() <= (SEQ_WINDOW / 8) as usize);
        assert_eq!(t.highest_seq, Some(u64::MAX));
        // The real stream goes on: its numbers are now far below the window.
        let ev = t.record(1);
        assert!(ev.out_of_order && !ev.duplicate);
        assert_eq!((t.received, t.out_of_window), (4, 1));
        // 2^64 − 4 numbers are missing; the count saturates instead of wrapping.
        assert_eq!(t.gaps_from(0), u64::MAX - 4);
    }

    #[test]
    fn within_the_window_it_counts_as_exactly_as_a_set_of_every_seq() {
        // A stream that runs well past the window, reordered and duplicated within it:
        // the ring must agree with an unbounded set.
        let mut t = SeqTally::default();
        let mut all = std::collections::HashSet::new();
        let (mut dups, mut late, mut highest) = (0u64, 0u64, None::<u64>);
        let mut x: u64 = 7;
        for i in 0..400_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let back = (x >> 33) % 3000;
            let seq = if (x >> 20).is_multiple_of(4) {
                i.saturating_sub(back)
            } else {
                i
            };
            let ev = t.record(seq);
            if !all.insert(seq) {
                dups += 1;
                assert!(ev.duplicate, "seq {seq} at {i} is a duplicate");
                continue;
            }
            if highest.is_some_and(|h| seq < h) {
                late += 1;
            }
            highest = highest.max(Some(seq));
        }
        assert_eq!(t.received, all.len() as u64);
        assert_eq!(
            (t.duplicates, t.out_of_order, t.out_of_window),
            (dups, late, 0)
        );
        assert_eq!(t.window_bytes(), (SEQ_WINDOW / 8) as usize);
    }

    #[test]
    fn a_stream_that_starts_late_grows_its_window_in_place() {
        let mut t = SeqTally::default();
        t.record(100);
        t.record(5_000);
        assert!(t.record(100).duplicate);
        assert!(t.record(4_999).out_of_order);
        assert!(t.record(4_999).duplicate);
        assert_eq!(t.gaps_from(100), 4_901 - 3);
    }
}
