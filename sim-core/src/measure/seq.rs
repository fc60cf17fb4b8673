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

/// The `seq` numbers of one stream: distinct ones received, duplicates, reordering.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeqTally {
    /// Distinct `seq` values received.
    pub received: u64,
    /// Messages whose `seq` had been received before.
    pub duplicates: u64,
    /// Messages whose `seq` was below the highest already seen.
    pub out_of_order: u64,
    /// Highest `seq` seen.
    pub highest_seq: Option<u64>,
    /// One bit per `seq` received: exact duplicates at 1 bit a message.
    seen: Vec<u64>,
}

impl SeqTally {
    /// Count one `seq`; says what it showed.
    pub fn record(&mut self, seq: u64) -> SeqEvent {
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
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
        match self.highest_seq {
            Some(h) if seq < h => {
                self.out_of_order += 1;
                ev.out_of_order = true;
            }
            Some(h) => {
                ev.gap = seq - h - 1;
                self.highest_seq = Some(seq);
            }
            None => {
                ev.gap = seq;
                self.highest_seq = Some(seq);
            }
        }
        ev
    }

    /// Sequence numbers from `from` up to the highest seen that never arrived.
    pub fn gaps_from(&self, from: u64) -> u64 {
        self.highest_seq
            .map_or(0, |h| (h + 1 - from).saturating_sub(self.received))
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
}
