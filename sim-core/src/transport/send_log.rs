//! The send log: what the sender knows of each message in flight that the wire does not
//! carry (its send time, the twin's expected values, its sim time), and, with a flow
//! window, retiring each message from the window exactly once.
//!
//! A message leaves the window when ingest takes its record (it came back), when the
//! dispatcher forgets it (it never left), or when it is written off as lost. A message
//! is lost once a later message of its device came back (a broker keeps a session's
//! order; a reorder fault sends one message after the next only), or once a message
//! sent a grace period after it came back. A record written off stays a minute, so a
//! late arrival still has its latency and expectations (and is no longer counted as
//! written off). The window's lead leaves out a message older than the grace that a
//! later one overtook: it is lost, or late, and must not hold the sim until the write-off
//! (which needs the sim to move on); what no later message overtook still holds it.

use crate::flow::Window;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How long a written-off record is kept for a late arrival, µs.
const KEEP_WRITTEN_OFF_US: u64 = 60_000_000;

/// What the sender knows of a message that the wire does not carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SendRecord {
    /// Wall-clock Unix microseconds at send.
    pub sent_us: u64,
    /// The twin's noise-free values of the analysed readings.
    pub expected: Vec<(&'static str, f64)>,
    /// Sim milliseconds of the message.
    pub sim_ms: u64,
}

/// A record and where it stands in the window.
#[derive(Debug)]
struct Entry {
    record: SendRecord,
    /// Written off as lost (already retired from the window).
    written_off: bool,
    /// Counted in `by_time` (in flight and younger than the grace).
    timed: bool,
}

/// Send records by (device, seq): the channel by which the sim's expectations and send
/// times reach ingest beside the wire, and the flow window's accounting.
#[derive(Debug, Default)]
pub struct SendLog {
    records: Mutex<Records>,
    window: Option<Arc<Window>>,
}

#[derive(Debug, Default)]
struct Records {
    by_key: HashMap<(u32, u64), Entry>,
    /// (sent_us, device, seq) in send order, for the write-off.
    order: VecDeque<(u64, u32, u64)>,
    /// The same, for taking records older than the grace out of `by_time`.
    aging: VecDeque<(u64, u32, u64)>,
    /// Written off, in the order they were: purged after [`KEEP_WRITTEN_OFF_US`].
    written: VecDeque<(u64, u32, u64)>,
    /// The latest send time of a message ingest has seen.
    frontier_us: u64,
    /// Per device, by fleet index: every `seq` below it is resolved.
    resolved: Vec<u64>,
    /// Messages in flight younger than the grace, by sim millisecond.
    by_time: BTreeMap<u64, u32>,
    /// Per device, by fleet index: one past the highest `seq` recorded (0: none yet).
    sent_upto: Vec<u64>,
}

impl Records {
    /// Write off (device, seq) if it is in flight.
    fn write_off(&mut self, window: &Window, key: (u32, u64), now_us: u64) -> bool {
        let Some(e) = self.by_key.get_mut(&key).filter(|e| !e.written_off) else {
            return false;
        };
        e.written_off = true;
        self.untime(key);
        self.written.push_back((now_us, key.0, key.1));
        window.write_off(key.0);
        true
    }

    /// `seq` of `device` came back: write off what it overtook.
    fn overtaken(&mut self, window: &Window, device: u32, seq: u64, now_us: u64) {
        let d = device as usize;
        if self.resolved.len() <= d {
            self.resolved.resize(d + 1, 0);
        }
        let upto = seq.saturating_sub(1);
        for q in self.resolved[d]..upto {
            self.write_off(window, (device, q), now_us);
        }
        self.resolved[d] = self.resolved[d].max(upto);
    }

    /// The record at `key` no longer counts for the lead.
    fn untime(&mut self, key: (u32, u64)) {
        let Some(e) = self.by_key.get_mut(&key).filter(|e| e.timed) else {
            return;
        };
        e.timed = false;
        let ms = e.record.sim_ms;
        if let Some(n) = self.by_time.get_mut(&ms) {
            *n -= 1;
            if *n == 0 {
                self.by_time.remove(&ms);
            }
        }
    }

    /// Take (device, seq) out; `Some((record, was_in_flight))`.
    fn remove(&mut self, key: (u32, u64)) -> Option<(SendRecord, bool)> {
        self.untime(key);
        let e = self.by_key.remove(&key)?;
        Some((e.record, !e.written_off))
    }

    /// Tell the window the sim time of the oldest message in flight.
    fn publish_oldest(&self, window: &Window) {
        window.set_oldest_ms(self.by_time.keys().next().copied().unwrap_or(u64::MAX));
    }
}

impl SendLog {
    /// A log that retires its messages from `window`.
    pub fn with_window(window: Arc<Window>) -> SendLog {
        SendLog {
            records: Mutex::default(),
            window: Some(window),
        }
    }

    /// The flow window, if the run has one.
    pub fn window(&self) -> Option<&Arc<Window>> {
        self.window.as_ref()
    }

    /// Remember (device, seq).
    pub fn record(&self, device: u32, seq: u64, record: SendRecord) {
        if let Ok(mut m) = self.records.lock() {
            let timed = self.window.is_some();
            if let Some(w) = &self.window {
                m.order.push_back((record.sent_us, device, seq));
                m.aging.push_back((record.sent_us, device, seq));
                *m.by_time.entry(record.sim_ms).or_default() += 1;
                m.publish_oldest(w);
            }
            let entry = Entry {
                record,
                written_off: false,
                timed,
            };
            m.by_key.insert((device, seq), entry);
            let d = device as usize;
            if m.sent_upto.len() <= d {
                m.sent_upto.resize(d + 1, 0);
            }
            m.sent_upto[d] = m.sent_upto[d].max(seq.saturating_add(1));
        }
    }

    /// Was (device, seq) ever recorded? A message whose record is gone was sent (it came
    /// back before, or was written off long ago) only if its device has sent a `seq` as
    /// high: a higher one, or one from a device that sent nothing, never left this run.
    pub fn was_sent(&self, device: u32, seq: u64) -> bool {
        let Ok(m) = self.records.lock() else {
            return false;
        };
        m.by_key.contains_key(&(device, seq))
            || m.sent_upto
                .get(device as usize)
                .is_some_and(|&upto| seq < upto)
    }

    /// Take the record of (device, seq): ingest saw the message. The device's messages
    /// it overtook are written off.
    pub fn take(&self, device: u32, seq: u64) -> Option<SendRecord> {
        let mut m = self.records.lock().ok()?;
        let (r, in_flight) = m.remove((device, seq))?;
        m.frontier_us = m.frontier_us.max(r.sent_us);
        if let Some(w) = &self.window {
            m.overtaken(w, device, seq, r.sent_us);
            m.publish_oldest(w);
            if in_flight {
                w.retire(device);
            } else {
                w.unwrite();
            }
        }
        Some(r)
    }

    /// Drop the record of (device, seq): the message never left.
    pub fn forget(&self, device: u32, seq: u64) {
        let Ok(mut m) = self.records.lock() else {
            return;
        };
        let gone = m.remove((device, seq));
        if let Some(w) = &self.window {
            m.publish_oldest(w);
            if let Some((_, true)) = gone {
                w.retire(device);
            }
        }
    }

    /// A message of `device` that was never recorded left the pipeline (it could not be
    /// encoded).
    pub fn refused(&self, device: u32) {
        if let Some(w) = &self.window {
            w.retire(device);
        }
    }

    /// Write off the messages in flight sent `grace_us` before one that came back, or,
    /// when `before_us` is given, every one sent before it; take those older than the
    /// grace and overtaken out of the lead; purge written-off records kept longer than a minute.
    /// Returns how many were written off.
    pub fn write_off(&self, now_us: u64, grace_us: u64, before_us: Option<u64>) -> u64 {
        let (Some(w), Ok(mut m)) = (&self.window, self.records.lock()) else {
            return 0;
        };
        // Out of the lead: older than the grace and overtaken by one that came back. What
        // was sent after the latest that came back keeps holding (a stalled broker).
        let aged = now_us.saturating_sub(grace_us).min(m.frontier_us);
        while let Some(&(sent, device, seq)) = m.aging.front() {
            if sent >= aged {
                break;
            }
            m.aging.pop_front();
            m.untime((device, seq));
        }
        let cutoff = before_us.unwrap_or(m.frontier_us.saturating_sub(grace_us));
        let mut n = 0;
        while let Some(&(sent, device, seq)) = m.order.front() {
            if sent >= cutoff {
                break;
            }
            m.order.pop_front();
            n += u64::from(m.write_off(w, (device, seq), now_us));
        }
        let purge = now_us.saturating_sub(KEEP_WRITTEN_OFF_US);
        while let Some(&(at, device, seq)) = m.written.front() {
            if at >= purge {
                break;
            }
            m.written.pop_front();
            if m.by_key.get(&(device, seq)).is_some_and(|e| e.written_off) {
                m.by_key.remove(&(device, seq));
            }
        }
        m.publish_oldest(w);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sent_us: u64, sim_ms: u64) -> SendRecord {
        SendRecord {
            sent_us,
            sim_ms,
            ..SendRecord::default()
        }
    }

    #[test]
    fn a_message_overtaken_by_its_devices_next_but_one_is_written_off_and_may_come_late() {
        let w = Arc::new(Window::new(1, 10, 10));
        let log = SendLog::with_window(w.clone());
        for seq in 0..3 {
            w.handed(0);
            log.record(0, seq, record(seq, seq * 1000));
        }
        assert!(log.take(0, 2).is_some());
        assert_eq!(
            (w.in_flight(), w.written_off()),
            (1, 1),
            "0 written off, 1 may still come"
        );
        let late = log.take(0, 0).expect("the record stays for a late arrival");
        assert_eq!(late.sent_us, 0);
        assert_eq!(
            (w.in_flight(), w.written_off()),
            (1, 0),
            "retired once, no longer written off"
        );
    }

    #[test]
    fn only_messages_a_grace_before_one_that_came_back_are_written_off() {
        let w = Arc::new(Window::new(4, 10, 10));
        let log = SendLog::with_window(w.clone());
        for (d, sent) in [(0, 100), (1, 900), (2, 1_500), (3, 5_000)] {
            w.handed(d);
            log.record(d, 0, record(sent, sent));
        }
        // Nothing came back yet: a stalled pipeline writes nothing off.
        assert_eq!(log.write_off(10_000, 1_000, None), 0);
        log.take(2, 0);
        // Sent 1,000 µs or more before device 2's: device 0 only.
        assert_eq!(log.write_off(10_000, 1_000, None), 1);
        assert_eq!((w.in_flight(), w.written_off()), (2, 1));
        // The stall rule takes everything sent before the given time.
        assert_eq!(log.write_off(10_000, 1_000, Some(6_000)), 2);
        assert_eq!(w.in_flight(), 0);
    }

    #[test]
    fn the_lead_leaves_out_old_messages_a_later_one_overtook() {
        let w = Arc::new(Window::new(3, 10, 10).with_lead(1.0));
        let log = SendLog::with_window(w.clone());
        for (d, sent, ms) in [(0, 100, 0), (1, 600, 1_000), (2, 5_000, 9_000)] {
            w.handed(d);
            log.record(d, 0, record(sent, ms));
        }
        assert!(w.must_hold(5.0), "5 s ahead of the message at 0 s");
        // Old, but nothing came back: a stalled broker, and the lead still holds.
        log.write_off(3_000, 1_000, None);
        assert!(w.must_hold(5.0));
        // Device 1's came back: device 0's, sent before it and old, no longer holds;
        // it is not written off (sent less than the grace before device 1's).
        log.take(1, 0);
        log.write_off(3_000, 1_000, None);
        assert!(!w.must_hold(5.0));
        assert!(w.must_hold(10.5), "device 2's at 9 s still counts");
        assert_eq!((w.in_flight(), w.written_off()), (2, 0));
    }
}
