//! Rate-limited warnings: the first few of a kind in a window are logged, the rest are
//! counted and said in one line when the window ends ("1,234 more malformed payloads on
//! twin/x/+/telemetry in the last 10 s"), so a flood of bad input never floods the log.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Warnings of one kind logged per window.
pub const BURST: u32 = 5;
/// The window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Per kind: when its window began, how many were logged in it, how many were not.
#[derive(Debug, Clone, Copy)]
struct Slot {
    since: Instant,
    logged: u32,
    more: u64,
}

/// Which warnings to log, by kind `K`.
#[derive(Debug)]
pub struct WarnLimit<K> {
    slots: HashMap<K, Slot>,
    burst: u32,
    window: Duration,
}

impl<K: Hash + Eq + Copy> Default for WarnLimit<K> {
    fn default() -> Self {
        WarnLimit::new(BURST, WINDOW)
    }
}

impl<K: Hash + Eq + Copy> WarnLimit<K> {
    /// At most `burst` warnings of a kind per `window`.
    pub fn new(burst: u32, window: Duration) -> WarnLimit<K> {
        WarnLimit {
            slots: HashMap::new(),
            burst,
            window,
        }
    }

    /// Should this warning of `kind` be logged now? One that is not is counted for the
    /// window's summary. A window that ended with warnings left unsaid is first
    /// returned as `Some(more)`: the caller says them before this one.
    pub fn admit(&mut self, kind: K, now: Instant) -> (bool, Option<u64>) {
        let window = self.window;
        let slot = self.slots.entry(kind).or_insert(Slot {
            since: now,
            logged: 0,
            more: 0,
        });
        let mut unsaid = None;
        if now.duration_since(slot.since) >= window {
            unsaid = (slot.more > 0).then_some(slot.more);
            *slot = Slot {
                since: now,
                logged: 0,
                more: 0,
            };
        }
        if slot.logged < self.burst {
            slot.logged += 1;
            (true, unsaid)
        } else {
            slot.more += 1;
            (false, unsaid)
        }
    }

    /// Kinds whose window has ended (or every kind, with `all`) with warnings unsaid,
    /// and how many; their windows start over.
    pub fn due(&mut self, now: Instant, all: bool) -> Vec<(K, u64)> {
        let window = self.window;
        let mut out = Vec::new();
        for (k, slot) in self.slots.iter_mut() {
            if slot.more > 0 && (all || now.duration_since(slot.since) >= window) {
                out.push((*k, slot.more));
                slot.more = 0;
                slot.logged = self.burst;
            }
        }
        out
    }

    /// The window, in whole seconds, for the summary line.
    pub fn window_secs(&self) -> u64 {
        self.window.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_and_the_rest_counted_until_the_window_ends() {
        let t0 = Instant::now();
        let mut w = WarnLimit::new(2, Duration::from_secs(10));
        let logged: Vec<bool> = (0..5).map(|_| w.admit("junk", t0).0).collect();
        assert_eq!(logged, [true, true, false, false, false]);
        assert!(w.due(t0 + Duration::from_secs(5), false).is_empty());
        assert_eq!(w.due(t0 + Duration::from_secs(10), false), [("junk", 3)]);
        // Said once: the next window starts with nothing unsaid.
        assert_eq!(w.admit("junk", t0 + Duration::from_secs(20)), (true, None));
        assert_eq!(w.admit("junk", t0 + Duration::from_secs(20)), (true, None));
        assert_eq!(w.admit("junk", t0 + Duration::from_secs(20)), (false, None));
        assert_eq!(
            w.admit("junk", t0 + Duration::from_secs(31)),
            (true, Some(1))
        );
        assert!(w.due(t0 + Duration::from_secs(31), true).is_empty());
    }
}
