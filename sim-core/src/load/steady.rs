//! When a session's reconnection backoff may start over, and when a broker that kicks
//! it for the same reason every time should end the run.
//!
//! A backoff that resets on every CONNACK turns a broker that disconnects at once into
//! a storm: connect, kicked, connect at the first step again. Here the backoff starts
//! over only once a session has stayed up: [`STEADY_AFTER`] connected, or its first
//! acknowledged publish (a subscriber: its first message). A session the broker sends
//! DISCONNECT with the same reason code [`KICKS_TO_STOP`] times in a row, each before it
//! stayed up, ends the run with that reason.

use crate::transport::backoff::Backoff;
use std::time::Duration;
use tokio::time::Instant;

/// Up this long, a session has stayed up.
pub(crate) const STEADY_AFTER: Duration = Duration::from_secs(3);
/// The same DISCONNECT reason this many times in a row, each before the session stayed
/// up, ends the run.
pub(crate) const KICKS_TO_STOP: u32 = 3;

/// One session's backoff, and the kicks it has had in a row.
#[derive(Debug, Default)]
pub(crate) struct Steady {
    backoff: Backoff,
    /// When the current connection opened.
    up_since: Option<Instant>,
    /// The current connection had an acknowledged publish (or a message).
    proven: bool,
    /// The last DISCONNECT reason before the session stayed up, and how often in a row.
    kicks: Option<(u8, u32)>,
}

impl Steady {
    /// A connection opened (the backoff does not start over yet).
    pub fn connected(&mut self) {
        self.up_since = Some(Instant::now());
        self.proven = false;
    }

    /// The connection did what it is for: the session has stayed up.
    pub fn proven(&mut self) {
        if !self.proven {
            self.proven = true;
            self.backoff.reset();
            self.kicks = None;
        }
    }

    /// The connection ended, by a DISCONNECT with reason `kick` when there was one.
    /// `Some((code, times))` when the same reason ended this many unsteady connections
    /// in a row: give up.
    pub fn lost(&mut self, kick: Option<u8>) -> Option<(u8, u32)> {
        let steady = self.proven || self.up_since.is_some_and(|t| t.elapsed() >= STEADY_AFTER);
        self.up_since = None;
        if steady {
            self.backoff.reset();
            self.kicks = None;
        }
        let Some(code) = kick else {
            self.kicks = None;
            return None;
        };
        let times = match self.kicks {
            Some((c, n)) if c == code => n + 1,
            _ => 1,
        };
        self.kicks = Some((code, times));
        (times >= KICKS_TO_STOP).then_some((code, times))
    }

    /// How long to wait before the next attempt.
    pub fn next_wait(&mut self) -> Duration {
        self.backoff.next_wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_kick_three_times_stops_and_a_proven_session_starts_over() {
        let mut s = Steady::default();
        for _ in 0..2 {
            s.connected();
            assert_eq!(s.lost(Some(0x9B)), None);
        }
        s.connected();
        assert_eq!(s.lost(Some(0x9B)), Some((0x9B, 3)));
        // Another reason, or a session that did its work, starts the count over.
        s.connected();
        assert_eq!(s.lost(Some(0x95)), None);
        s.connected();
        s.proven();
        assert_eq!(s.lost(Some(0x95)), None);
        s.connected();
        assert_eq!(s.lost(None), None);
    }
}
