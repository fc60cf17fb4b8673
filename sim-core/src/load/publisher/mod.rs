//! The publishing sessions of `twin load pub`, without a client library (see
//! [`crate::load::codec`] for why).
//!
//! A load generator must cost less than the broker it measures. A client library pays a
//! channel hop, an event per packet and a flush per publish; here one task per session
//! owns its socket, encodes every message that is due into one buffer and writes it
//! with one call, reads acknowledgements in the same task, and keeps its in-flight
//! window in a small ring. MQTT 3.1.1 and 5, QoS 0, 1 (PUBACK) and 2 (PUBREC, PUBREL,
//! PUBCOMP), over TCP or TLS, from a chosen source address, reconnecting with backoff.
//!
//! Uses the codec, the dialer, the payload and the pacer; reports nothing itself: the
//! `publish` driver adds up each session's [`PubOutcome`] and the shared histograms.

mod backlog;
mod histograms;
mod incoming;
mod live;
mod outgoing;
mod session;

pub(crate) use histograms::RunHistograms;
pub(crate) use session::{PubOutcome, PubSession};
