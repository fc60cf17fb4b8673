//! `twin load pub`: publish load with exact accounting. Each device follows an open-loop
//! schedule (message k is due at its session's start + offset + k·interval, whatever
//! happened before), stamps each payload with its device index, `seq`, intended and
//! actual send times, and a subscriber in the same process counts every message by
//! (device, seq): exact loss, duplicates and reordering, and latency both from the actual
//! send (what the broker added) and from the intended send (coordinated omission
//! corrected: a stalled generator cannot hide delay). The publishing sessions time their
//! PUBACK (QoS 1) or PUBCOMP (QoS 2), and the tool watches its own CPU and schedule lag.
//!
//! Gateway mode: one session publishes for `devices_per_session` devices, as an edge
//! gateway does, each device with its own `seq` stream and topic.

//!
//! Uses the publishing sessions, the counting subscriber, the payload and the reports.

mod context;
mod finish;
mod limits;
mod run;
mod sessions;
mod spec;
mod tally;
mod topics;

pub use run::{publish, publish_counted};
pub use spec::{DEFAULT_RECONNECT_RATE, LoadSpec, PERSISTENT_EXPIRY_S};
pub use topics::filter_of;
