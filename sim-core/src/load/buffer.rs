//! What a publisher does with messages it cannot write, and the count of those it did
//! not send.

use crate::load::error::LoadError;
use serde::{Deserialize, Serialize};

/// What a publisher does with a message that falls due while it cannot write it (no
/// connection, its in-flight window full, or the counting subscriber away) and its
/// buffer is full.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BufferPolicy {
    /// Drop the oldest buffered message to make room (keep the freshest readings).
    DropOldest,
    /// Drop the new message.
    DropNewest,
    /// Stop the device's schedule until there is room: nothing is dropped, later
    /// messages leave late (the intended-time latency shows by how much). The default:
    /// a benchmark drops nothing it was not asked to.
    #[default]
    BlockDevice,
}

impl BufferPolicy {
    /// Parse `drop-oldest`, `drop-newest` or `block-device`.
    pub fn parse(s: &str) -> Result<BufferPolicy, LoadError> {
        match s {
            "drop-oldest" => Ok(BufferPolicy::DropOldest),
            "drop-newest" => Ok(BufferPolicy::DropNewest),
            "block-device" => Ok(BufferPolicy::BlockDevice),
            _ => Err(LoadError::BufferPolicy(s.to_string())),
        }
    }
}

/// Messages a publisher did not send, by reason.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct Dropped {
    /// Pushed out of a full buffer (`drop-oldest`) or refused by it (`drop-newest`).
    pub buffer_full: u64,
    /// QoS 0 messages due while the session could not write: QoS 0 is not buffered.
    pub offline: u64,
    /// Due, still buffered (or held back by `block-device`) when the run ended.
    pub unsent: u64,
}

impl Dropped {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.buffer_full + self.offline + self.unsent
    }

    /// Add another's counts.
    pub fn add(&mut self, o: &Dropped) {
        self.buffer_full += o.buffer_full;
        self.offline += o.offline;
        self.unsent += o.unsent;
    }
}
