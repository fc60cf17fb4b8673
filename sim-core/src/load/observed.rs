//! What a run's sessions saw of how the broker speaks MQTT, shared by all of them: every
//! DISCONNECT and non-zero reason code by packet and code, acknowledgements that granted
//! less than the QoS they acknowledge (warned about once), and the kick that ended the
//! run, if one did. The reports carry it (`broker_reasons`, `qos_granted`, `downgraded`,
//! `stopped_by`).

use crate::load::error::reason_name;
use crate::load::report::ReasonCount;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// What the sessions of one run saw of the broker.
#[derive(Debug)]
pub(crate) struct Observed {
    /// Reason codes by (packet, code).
    reasons: Mutex<BTreeMap<(&'static str, u8), u64>>,
    /// Acknowledgements (and SUBACK grants) below the QoS they acknowledge.
    downgraded: AtomicU64,
    /// The lowest QoS an acknowledgement or a grant showed.
    qos_granted: AtomicU8,
    /// The downgrade warning was printed.
    warned: AtomicBool,
    /// Why the broker ended the run, when it did.
    stopped_by: Mutex<Option<String>>,
    /// Set with `stopped_by`: the run's waits look at it.
    stopped: AtomicBool,
}

impl Observed {
    /// Nothing seen yet, for a run at `qos`.
    pub fn new(qos: u8) -> Observed {
        Observed {
            reasons: Mutex::new(BTreeMap::new()),
            downgraded: AtomicU64::new(0),
            qos_granted: AtomicU8::new(qos),
            warned: AtomicBool::new(false),
            stopped_by: Mutex::new(None),
            stopped: AtomicBool::new(false),
        }
    }

    /// The broker sent `packet` with reason `code`.
    pub fn reason(&self, packet: &'static str, code: u8) {
        if let Ok(mut m) = self.reasons.lock() {
            *m.entry((packet, code)).or_default() += 1;
        }
    }

    /// An acknowledgement (`what`) granted QoS `granted`, less than asked: count it, lower
    /// `qos_granted`, and warn the first time.
    pub fn downgrade(&self, granted: u8, what: &str) {
        self.downgraded.fetch_add(1, Ordering::Relaxed);
        self.qos_granted.fetch_min(granted, Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the broker downgraded QoS: {what} (granted QoS {granted}); counted in the \
                 report's \"downgraded\" (warned once)"
            );
        }
    }

    /// The broker sent DISCONNECT with `code` to a session `times` times in a row before
    /// it ever stayed up: the run ends, with this as its reason.
    pub fn kicked(&self, code: u8, times: u32) {
        if let Ok(mut s) = self.stopped_by.lock()
            && s.is_none()
        {
            *s = Some(format!(
                "the broker sent DISCONNECT with reason code {code:#04x} ({}) {times} times in \
                 a row, each time before the session stayed up",
                reason_name(code)
            ));
        }
        self.stopped.store(true, Ordering::Release);
    }

    /// A session's kick ended the run.
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Why the broker ended the run, when it did.
    pub fn stopped_by(&self) -> Option<String> {
        self.stopped_by.lock().ok().and_then(|s| s.clone())
    }

    /// How many acknowledgements were downgrades.
    pub fn downgraded(&self) -> u64 {
        self.downgraded.load(Ordering::Relaxed)
    }

    /// The lowest QoS granted (the run's QoS when nothing was downgraded).
    pub fn qos_granted(&self) -> u8 {
        self.qos_granted.load(Ordering::Relaxed)
    }

    /// The reason codes, by packet and code, with their names.
    pub fn reasons(&self) -> Vec<ReasonCount> {
        let Ok(m) = self.reasons.lock() else {
            return Vec::new();
        };
        m.iter()
            .map(|(&(packet, code), &count)| ReasonCount {
                packet: packet.to_string(),
                code,
                name: if packet == "DISCONNECT" && code == 0 {
                    "normal disconnection".to_string()
                } else {
                    reason_name(code).to_string()
                },
                count,
            })
            .collect()
    }
}
