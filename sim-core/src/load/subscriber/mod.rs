//! The counting subscriber of `twin load pub` and `twin load sub`, without a client
//! library (see [`crate::load::codec`] for why).
//!
//! At QoS 2 every delivered message costs the subscriber a PUBREC and a PUBCOMP. A
//! client library writes each as its own packet and hands each PUBLISH over as an
//! event; at 10,000 msg/s that is 20,000 writes a second the broker must also read one
//! by one. Here the session reads what the socket holds, hands every PUBLISH in it to
//! the caller in one batch, and answers them all in one write. MQTT 3.1.1 and 5, QoS 0,
//! 1 and 2, TCP or TLS, reconnecting (and subscribing again) with backoff.

//!
//! Uses the codec and the dialer; what it counts is up to the caller, who gets each
//! read's payloads as one [`Batch`].

mod gate;
mod session;

pub(crate) use gate::SubGate;
pub(crate) use session::{Batch, SubFailure, SubOutcome, SubSession, Subscribed};
