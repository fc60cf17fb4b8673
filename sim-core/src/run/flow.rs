//! Keeping the flow window honest while the sim runs: messages that will not come back
//! are written off so the window does not shrink for good, and a pipeline that has
//! delivered nothing for a while is named in a warning.
//!
//! A message is lost (for the window) once a message sent [`GRACE`] after it has come
//! back (see `transport::send_log` for the rule by device). When nothing comes back (a
//! broker stopped with SIGSTOP, a broker that refuses the fleet's publishes), nothing
//! is written off and the sim holds, so a stalled broker loses nothing; only after
//! `stall_after` without a single message is everything sent before then written off,
//! with a warning, so the run still ends (and again after each further `stall_after`
//! of silence). A record written off stays a while: a message that comes back late
//! still counts, with its latency.

use crate::transport::dispatch::SendLog;
use crate::wire::unix_us;
use std::time::{Duration, Instant};

/// How much later a message must have been sent, and come back, before an earlier one
/// still in flight is written off.
pub(super) const GRACE: Duration = Duration::from_secs(2);

/// The shortest `stall_after`: the run's drain timeout, but never less than this (the
/// terminal UI drains for half a second only).
pub(super) const FLOW_STALL_MIN: Duration = Duration::from_secs(10);

/// What the run watches of its window between looks.
pub(super) struct FlowWatch {
    stall_after: Duration,
    last_retired: u64,
    moved_at: Instant,
    warned: bool,
}

impl FlowWatch {
    /// A watch that calls the pipeline stalled after `stall_after` without progress.
    pub(super) fn new(stall_after: Duration) -> FlowWatch {
        FlowWatch {
            stall_after,
            last_retired: 0,
            moved_at: Instant::now(),
            warned: false,
        }
    }

    /// One look: write off what will not come back.
    pub(super) fn look(&mut self, log: &SendLog) {
        let Some(window) = log.window() else {
            return;
        };
        log.write_off(unix_us(), GRACE.as_micros() as u64, None);
        let retired = window.retired();
        if retired != self.last_retired || window.in_flight() == 0 {
            self.last_retired = retired;
            self.moved_at = Instant::now();
            self.warned = false;
            return;
        }
        if self.moved_at.elapsed() < self.stall_after {
            return;
        }
        let before = unix_us().saturating_sub(self.stall_after.as_micros() as u64);
        let n = log.write_off(unix_us(), 0, Some(before));
        // Again after another `stall_after` of silence; the warning once per silence.
        self.moved_at = Instant::now();
        if std::mem::replace(&mut self.warned, true) {
            return;
        }
        tracing::warn!(
            in_flight = window.in_flight() + n,
            "nothing came back for {:.0} s: the broker is stalled or drops the fleet's \
             messages; {n} messages written off as lost so the run can go on",
            self.stall_after.as_secs_f64()
        );
    }
}
