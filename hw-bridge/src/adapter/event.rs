//! What an adapter answers: the [`Event`]s a message meant, its [`Outcome`], and the
//! [`Command`] that carries a desired state to a device.

use serde_json::Value;

/// What a device said.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A measurement: reading name and value.
    Reading(String, f64),
    /// A state the device reports (a relay's `power`), normalised by [`crate::value`].
    State(String, Value),
    /// The device announced itself online, or its last will said offline.
    Online(bool),
    /// The message's sequence number, when the firmware counts its messages.
    Seq(u64),
    /// Messages the device sent that never arrived, counted by the adapter itself (a
    /// Sparkplug node's `seq` wraps at 256 and is shared by its devices, so gaps in it
    /// are seen by the adapter, not by the mirror).
    Lost(u64),
    /// Something the protocol wants sent to the device now (a Sparkplug host asks a
    /// node it joined late to announce its metrics again).
    Send(Command),
}

/// An adapter's verdict on one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Not from this device (another device on a shared topic, an echo of a command).
    NotMine,
    /// What it said (possibly nothing of interest: an empty list).
    Events(Vec<Event>),
    /// From this device, but unreadable: why.
    Malformed(String),
}

/// A command to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
}
