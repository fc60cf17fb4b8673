//! One publishing session: its schedule, its socket, its in-flight window.

use crate::load::buffer::{BufferPolicy, Dropped};
use crate::load::codec::connack::Connack;
use crate::load::dial::{Dial, Stream};
use crate::load::error::LinkError;
use crate::load::observed::Observed;
use crate::load::pacer::Pacer;
use crate::load::payload::HEADER;

use crate::transport::backoff::Backoff;
use std::sync::Arc;

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// One publishing session: where it connects, what it publishes, on what schedule.
pub(crate) struct PubSession {
    /// Where it connects, again after a lost connection.
    pub dial: Dial,
    /// MQTT 5 framing.
    pub v5: bool,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// Retain flag.
    pub retain: bool,
    /// Payload bytes.
    pub size: usize,
    /// Topic of each of the session's devices.
    pub topics: Vec<Vec<u8>>,
    /// JSON body of each device's messages, instead of padding.
    pub bodies: Option<Vec<String>>,
    /// Global index of the session's first device.
    pub first_device: u32,
    /// Messages in all (round-robin over the devices).
    pub messages: u64,
    /// µs between two messages of the session.
    pub step_us: u64,
    /// µs from the session's start to its first message.
    pub offset_us: u64,
    /// Keep-alive asked for in CONNECT: a PINGREQ when nothing was written for half of
    /// it (the broker's Server Keep Alive replaces it).
    pub keep_alive: Duration,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Most QoS 1/2 messages awaiting acknowledgement (the broker's Receive Maximum
    /// lowers it).
    pub inflight: usize,
    /// Most messages waiting to be written (all devices of the session together).
    pub buffer: usize,
    /// Most bytes of messages waiting to be written.
    pub buffer_bytes: usize,
    /// What to do with a due message when the buffer is full and nothing can be written.
    pub policy: BufferPolicy,
    /// Open while the run's counting subscribers are all subscribed: a publisher holds
    /// its messages while they are away, so what the report calls lost is what the
    /// broker lost, not what nobody was listening for.
    pub gate: watch::Receiver<bool>,
    /// Spaces reconnection attempts over the run.
    pub pacer: Arc<Pacer>,
    /// What the run's sessions saw of the broker.
    pub observed: Arc<Observed>,
}

/// What a session did.
pub(crate) struct PubOutcome {
    /// Messages written, per device of the session.
    pub sent: Vec<u64>,
    /// Whether the first connection succeeded.
    pub connected: bool,
    /// The first connection's TCP + CONNECT → CONNACK time, µs.
    pub connect_us: Option<u64>,
    /// When the schedule started.
    pub start: Option<Instant>,
    /// Messages not sent, by reason.
    pub dropped: Dropped,
    /// Payload bytes of the messages written (first sends; with `--payload`, the
    /// template with its accounting member).
    pub payload_bytes: u64,
}

impl PubSession {
    /// µs from the schedule's start to message `m`.
    pub(crate) fn due_us(&self, m: u64) -> u64 {
        self.offset_us + m * self.step_us
    }

    /// How much of the buffer a message of device `j` takes.
    pub(crate) fn msg_bytes(&self, j: usize) -> usize {
        self.topics[j].len()
            + match &self.bodies {
                Some(b) => b[j].len() + 64,
                None => self.size.max(HEADER),
            }
    }

    /// Messages due by `now` (from the schedule's start).
    pub(crate) fn due_by(&self, start: Instant, now: Instant) -> u64 {
        let since = now.saturating_duration_since(start).as_micros() as u64;
        if since < self.offset_us {
            return 0;
        }
        ((since - self.offset_us) / self.step_us.max(1) + 1).min(self.messages)
    }

    /// Connect, retrying with backoff until the connect timeout; a refusal or a TLS
    /// failure ends it at once.
    pub(crate) async fn first_open(&self) -> Option<(Stream, Connack)> {
        let deadline = Instant::now() + self.connect_timeout;
        let mut backoff = Backoff::default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.dial.open()).await {
                Ok(Ok(s)) => return Some(s),
                Ok(Err(LinkError::Refused { .. } | LinkError::Tls(_))) | Err(_) => return None,
                Ok(Err(_)) => {}
            }
            let wait = backoff.next_wait();
            if Instant::now() + wait >= deadline {
                return None;
            }
            tokio::time::sleep(wait).await;
        }
    }
}
