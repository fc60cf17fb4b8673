//! Reconnection backoff shared by every kind of session: exponential, with full jitter
//! (a uniformly random wait up to the current step), so sessions that lost their broker
//! together do not come back together.

use rand::RngExt as _;
use std::time::Duration;

/// The first step.
pub const FIRST: Duration = Duration::from_millis(100);
/// The step never grows past this.
pub const CAP: Duration = Duration::from_secs(5);

/// One session's backoff state.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    step: Duration,
    first: Duration,
    cap: Duration,
}

impl Default for Backoff {
    /// From [`FIRST`] up to [`CAP`]: what device and load sessions use.
    fn default() -> Self {
        Backoff::with_bounds(FIRST, CAP)
    }
}

impl Backoff {
    /// A backoff whose step starts at `first` and stops growing at `cap`.
    pub fn with_bounds(first: Duration, cap: Duration) -> Backoff {
        Backoff {
            step: first,
            first,
            cap,
        }
    }

    /// How long to wait before the next attempt (in `0..step`); the step then doubles,
    /// up to the cap ([`CAP`] by default).
    pub fn next_wait(&mut self) -> Duration {
        let wait = rand::rng().random_range(0.0..self.step.as_secs_f64());
        self.step = (self.step * 2).min(self.cap);
        Duration::from_secs_f64(wait)
    }

    /// Connected again: start over from the first step ([`FIRST`] by default).
    pub fn reset(&mut self) {
        self.step = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_stay_under_a_doubling_step_capped_at_five_seconds() {
        let mut b = Backoff::default();
        let mut step = FIRST;
        for _ in 0..10 {
            assert!(b.next_wait() < step);
            step = (step * 2).min(CAP);
        }
        assert_eq!(b.step, CAP);
        b.reset();
        assert!(b.next_wait() < FIRST);
    }
}
