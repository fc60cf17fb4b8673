//! The end-to-end flow window of a run: messages the sim has handed out that the
//! pipeline (dispatcher, device session, broker, ingest) has not yet retired.
//!
//! The sim counts a message in when it puts it in the outbox ([`Window::handed`]); it
//! is retired when ingest sees it, when the dispatcher could not send it, or when it is
//! written off as lost (see `transport::send_log`). The sim thread
//! holds its clock while [`Window::must_hold`] says so: while the run has `limit`
//! messages in flight, or one device has `per_device` in flight (its session's request
//! queue would overflow next). So the sim never outruns the pipeline, and a broker's
//! queue for the ingest (Mosquitto keeps 1,000 messages per client by default) never
//! holds more than the window.
//!
//! The sim's lead is measured from the oldest message in flight wherever it is: still in
//! the outbox (the sim's own queue of their sim times, [`Window::will_hand`], which the
//! dispatcher moves past with [`Window::taken`] once it has recorded a message in the
//! send log), or on the wire (the send log's oldest record). Without the first, a small
//! fleet at `speed = "max"` ran hundreds of sim seconds ahead of messages the
//! dispatcher had not picked up yet, and its analytics saw skewed clocks and silent
//! devices.
//!
//! Lock-free on the paths of the dispatcher and ingest; the queue of the outbox's sim
//! times is locked by the sim thread only.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Messages in flight the run allows by default, per ingest session: within
/// Mosquitto's default per-client queue (`max_queued_messages 1000`) with room for the
/// broker's own in-flight messages.
pub const PER_INGEST_SESSION: u64 = 800;

/// Messages in flight one device may have by default: half its session's request
/// queue, and within a broker's default receive quota (Mosquitto: 20).
pub const PER_DEVICE: u32 = 16;

/// The window: what is in flight, in all and per device, and how far in sim time the
/// sim is ahead of the oldest message in flight.
#[derive(Debug)]
pub struct Window {
    limit: u64,
    per_device: u32,
    /// Sim milliseconds the sim may run ahead of its oldest message in flight.
    lead_ms: u64,
    /// Sim milliseconds of the oldest message in flight (`u64::MAX`: none), kept by the
    /// send log.
    oldest_ms: AtomicU64,
    /// Messages counted in by the sim.
    handed: AtomicU64,
    /// Of those, retired (seen, refused, written off).
    retired: AtomicU64,
    /// Of those, written off as lost.
    written_off: AtomicU64,
    /// In flight per device, by fleet index.
    devices: Vec<AtomicU32>,
    /// Devices at or above `per_device`.
    choked: AtomicU32,
    /// Sim milliseconds of the messages handed to the outbox, oldest first, and how
    /// many of them have been dropped from the front.
    pending: Mutex<(VecDeque<u64>, u64)>,
    /// Messages the dispatcher has taken from the outbox and recorded.
    taken: AtomicU64,
}

impl Window {
    /// A window for `devices` devices: at most `limit` in flight in all and
    /// `per_device` per device (each at least 1).
    pub fn new(devices: usize, limit: u64, per_device: u32) -> Window {
        Window {
            limit: limit.max(1),
            per_device: per_device.max(1),
            lead_ms: u64::MAX,
            oldest_ms: AtomicU64::new(u64::MAX),
            handed: AtomicU64::new(0),
            retired: AtomicU64::new(0),
            written_off: AtomicU64::new(0),
            devices: (0..devices).map(|_| AtomicU32::new(0)).collect(),
            choked: AtomicU32::new(0),
            pending: Mutex::new((VecDeque::new(), 0)),
            taken: AtomicU64::new(0),
        }
    }

    /// Also hold while the sim is more than `lead` sim seconds ahead of its oldest
    /// message in flight. At `speed = "max"` a millisecond of the pipeline's wall time is
    /// many sim seconds; without a lead a message that waited a little longer than the
    /// others would reach the analytics looking like a skewed clock or a stale device.
    pub fn with_lead(mut self, lead: f64) -> Window {
        self.lead_ms = (lead.max(0.0) * 1000.0) as u64;
        self
    }

    /// The run-wide limit.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The sim time (ms) of the oldest message in flight now, `u64::MAX` for none (the
    /// send log sets it).
    pub fn set_oldest_ms(&self, ms: u64) {
        self.oldest_ms.store(ms, Ordering::Release);
    }

    /// The sim handed a message of `device` to the pipeline.
    pub fn handed(&self, device: u32) {
        self.handed.fetch_add(1, Ordering::Relaxed);
        if let Some(d) = self.devices.get(device as usize)
            && d.fetch_add(1, Ordering::AcqRel) + 1 == self.per_device
        {
            self.choked.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A message of `device` left the pipeline (seen, refused or written off).
    pub fn retire(&self, device: u32) {
        if let Some(d) = self.devices.get(device as usize) {
            let before = d
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1))
                .unwrap_or(0);
            if before == self.per_device {
                self.choked.fetch_sub(1, Ordering::AcqRel);
            }
        }
        self.retired.fetch_add(1, Ordering::Release);
    }

    /// A message of `device` is presumed lost: retired, and counted as written off.
    pub fn write_off(&self, device: u32) {
        self.written_off.fetch_add(1, Ordering::Relaxed);
        self.retire(device);
    }

    /// A message written off came back after all: no longer counted as written off
    /// (it was retired when it was written off).
    pub fn unwrite(&self) {
        let _ = self
            .written_off
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
    }

    /// The sim is about to hand a message of sim time `sim_ms` to the outbox (before
    /// the send, so the dispatcher can never take it first).
    pub fn will_hand(&self, sim_ms: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.0.push_back(sim_ms);
        }
    }

    /// The message [`Window::will_hand`] announced did not go in (the outbox was full).
    pub fn unhand(&self) {
        if let Ok(mut p) = self.pending.lock() {
            p.0.pop_back();
        }
    }

    /// The dispatcher took a message from the outbox and recorded it in the send log
    /// (or refused it): from now on the send log's oldest record speaks for it.
    pub fn taken(&self) {
        self.taken.fetch_add(1, Ordering::Release);
    }

    /// Sim milliseconds of the oldest message still in the outbox (`u64::MAX`: none).
    fn oldest_in_outbox(&self) -> u64 {
        let taken = self.taken.load(Ordering::Acquire);
        let Ok(mut p) = self.pending.lock() else {
            return u64::MAX;
        };
        let (queue, popped) = &mut *p;
        while *popped < taken && queue.pop_front().is_some() {
            *popped += 1;
        }
        queue.front().copied().unwrap_or(u64::MAX)
    }

    /// Messages of `device` in flight now.
    pub fn device_in_flight(&self, device: u32) -> u32 {
        self.devices
            .get(device as usize)
            .map_or(0, |d| d.load(Ordering::Acquire))
    }

    /// Messages in flight now.
    pub fn in_flight(&self) -> u64 {
        let retired = self.retired.load(Ordering::Acquire);
        self.handed.load(Ordering::Relaxed).saturating_sub(retired)
    }

    /// Messages retired so far (the sim's hold watches it move).
    pub fn retired(&self) -> u64 {
        self.retired.load(Ordering::Acquire)
    }

    /// Messages written off as lost so far.
    pub fn written_off(&self) -> u64 {
        self.written_off.load(Ordering::Relaxed)
    }

    /// The sim, at `now` sim seconds, must not take another step: the window is full, a
    /// device's share is, or the oldest message in flight is more than the lead behind.
    pub fn must_hold(&self, now: f64) -> bool {
        let now_ms = (now * 1000.0) as u64;
        let oldest = self
            .oldest_ms
            .load(Ordering::Acquire)
            .min(self.oldest_in_outbox());
        self.in_flight() >= self.limit
            || self.choked.load(Ordering::Acquire) > 0
            || (oldest != u64::MAX && now_ms.saturating_sub(oldest) > self.lead_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_at_its_limit_and_at_a_devices_share() {
        let w = Window::new(4, 4, 2);
        w.handed(0);
        w.handed(1);
        w.handed(2);
        assert!(!w.must_hold(0.0));
        w.handed(2);
        assert!(w.must_hold(0.0), "device 2 has its share in flight");
        w.retire(2);
        assert!(!w.must_hold(0.0));
        w.handed(3);
        assert_eq!(w.in_flight(), 4);
        assert!(w.must_hold(0.0), "four in flight of four");
        w.write_off(1);
        assert!(!w.must_hold(0.0));
        assert_eq!((w.in_flight(), w.retired(), w.written_off()), (3, 2, 1));
    }

    #[test]
    fn the_sim_holds_when_it_leads_its_oldest_message_in_flight_too_far() {
        let w = Window::new(1, 100, 100).with_lead(10.0);
        assert!(!w.must_hold(50.0), "nothing in flight");
        w.set_oldest_ms(45_000);
        assert!(!w.must_hold(55.0), "10 s ahead is within the lead");
        assert!(w.must_hold(55.5), "10.5 s ahead is not");
    }

    #[test]
    fn a_retire_beyond_what_was_handed_does_not_wrap() {
        let w = Window::new(1, 2, 1);
        w.retire(0);
        w.handed(0);
        assert!(w.must_hold(0.0), "the device's one message is in flight");
        assert_eq!(w.in_flight(), 0, "the stray retire is counted");
    }
}
