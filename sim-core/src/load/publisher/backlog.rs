//! What a publishing session has not written yet and what awaits acknowledgement.

use std::collections::VecDeque;
use tokio::time::Instant;

/// A message waiting for the socket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queued {
    /// Its index in the session's schedule.
    pub m: u64,
    /// Written before a connection was lost: its packet id, and whether the broker had
    /// acknowledged receipt (PUBREC), so PUBREL goes out rather than the PUBLISH.
    pub again: Option<(u16, bool)>,
}

/// A QoS 1/2 message written and not yet acknowledged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pending {
    /// Its packet id.
    pub pkid: u16,
    /// When it was written, for the ack latency.
    pub at: Instant,
    /// Its index in the session's schedule.
    pub m: u64,
    /// PUBREC seen (QoS 2).
    pub rec: bool,
}

/// Where a session keeps what it has not written yet and what awaits acknowledgement.
pub(crate) struct Backlog {
    /// Due messages not written yet, re-sends first.
    pub queue: VecDeque<Queued>,
    /// Bytes of the new (never written) messages in `queue`.
    pub bytes: usize,
    /// Written and awaiting acknowledgement, oldest first.
    pub pending: VecDeque<Pending>,
    /// Where the search for a free packet id starts.
    next_pkid: u16,
}

impl Backlog {
    /// Empty, packet ids from 1.
    pub fn new() -> Backlog {
        Backlog {
            queue: VecDeque::new(),
            bytes: 0,
            pending: VecDeque::new(),
            next_pkid: 1,
        }
    }

    /// A packet id not held by a pending or re-queued message, nor by `taken`.
    pub fn free_pkid(&mut self, taken: &[u16]) -> u16 {
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
