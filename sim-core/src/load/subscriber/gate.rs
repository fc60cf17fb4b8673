//! The gate publishers wait on while a counting subscriber is away.

use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::watch;

/// Whether all of a run's counting subscribers are subscribed: publishers hold their
/// messages while one is away.
pub(crate) struct SubGate {
    /// Subscribers in the run.
    pub need: usize,
    /// Subscribers subscribed now.
    pub up: AtomicUsize,
    /// `true` while all are.
    pub tx: watch::Sender<bool>,
}

impl SubGate {
    /// One more subscriber is subscribed.
    pub fn subscribed(&self) {
        if self.up.fetch_add(1, Ordering::AcqRel) + 1 == self.need {
            self.tx.send_replace(true);
        }
    }

    /// One subscriber lost its subscription.
    pub fn lost(&self) {
        if self.up.fetch_sub(1, Ordering::AcqRel) == self.need {
            self.tx.send_replace(false);
        }
    }
}
