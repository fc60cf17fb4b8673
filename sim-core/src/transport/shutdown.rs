//! Shutdown signals for long-running tasks, the way mini-redis does it: the owner keeps
//! a [`Trigger`]; each task holds a [`Shutdown`] and selects on [`Shutdown::recv`] beside
//! its work, then finishes what it must (a last `offline`, a DISCONNECT) and ends. The
//! owner learns that a task is done from its `JoinHandle`, awaited with a timeout.
//!
//! Firing is sticky: a task that looks after the trigger fired still sees it. Dropping
//! the trigger counts as firing, so a task never outlives an owner that forgot to.

use tokio::sync::watch;

/// A new trigger and the first receiver (clone it, or [`Trigger::subscribe`], for more).
pub fn signal() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

/// The owner's end: fires once for every [`Shutdown`] made from it.
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    /// Tell every task to stop.
    pub fn fire(&self) {
        self.0.send_replace(true);
    }

    /// Another receiver.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

/// A task's end: cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Whether the trigger has fired (or is gone).
    pub fn is_fired(&self) -> bool {
        *self.0.borrow() || self.0.has_changed().is_err()
    }

    /// Wait until the trigger fires (at once if it has), or is dropped.
    pub async fn recv(&mut self) {
        let _ = self.0.wait_for(|&fired| fired).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_receiver_sees_a_fire_even_a_late_one() {
        let (trigger, mut early) = signal();
        assert!(!early.is_fired());
        trigger.fire();
        early.recv().await;
        let mut late = trigger.subscribe();
        assert!(late.is_fired());
        late.recv().await;
    }

    #[tokio::test]
    async fn a_dropped_trigger_counts_as_fired() {
        let (trigger, mut rx) = signal();
        drop(trigger);
        assert!(rx.is_fired());
        rx.recv().await;
    }
}
