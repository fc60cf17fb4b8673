//! What arrived on a fleet's topics and was not counted as the fleet's telemetry: payloads
//! that could not be read (undecodable, or over the size a message may have) and
//! messages the fleet never sent (a stranger's). Each is counted by reason and by topic,
//! in bounded memory whatever arrives: at most [`TOPICS_KEPT`] topics are kept by name,
//! the rest are counted together.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most (reason, topic) pairs counted by name; beyond, they count in `other_topics`.
pub const TOPICS_KEPT: usize = 64;
/// Most topics a summary lists (those with the most messages).
pub const TOPICS_LISTED: usize = 16;
/// The largest telemetry payload ingest reads, bytes: a larger one is counted
/// `oversized` and never decoded. Fleets publish payloads of well under a kilobyte.
pub const MAX_TELEMETRY_BYTES: usize = 1024 * 1024;

/// Why a message on a fleet's telemetry topics was not counted as the fleet's.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The payload could not be decoded.
    Malformed,
    /// Over [`MAX_TELEMETRY_BYTES`]: counted, never decoded.
    Oversized,
    /// A `seq` the device named by its topic never sent.
    NeverSent,
    /// The payload names another device than its topic does.
    WrongDevice,
    /// A device id not in the fleet.
    UnknownDevice,
}

impl Reason {
    /// Every reason, in report order.
    pub const ALL: [Reason; 5] = [
        Reason::Malformed,
        Reason::Oversized,
        Reason::NeverSent,
        Reason::WrongDevice,
        Reason::UnknownDevice,
    ];

    /// The reason in words, for logs and summaries.
    pub fn words(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed payloads",
            Reason::Oversized => "oversized payloads",
            Reason::NeverSent => "messages the fleet never sent",
            Reason::WrongDevice => "payloads naming another device than their topic",
            Reason::UnknownDevice => "messages from devices not in the fleet",
        }
    }

    /// The reason's name, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::Oversized => "oversized",
            Reason::NeverSent => "never_sent",
            Reason::WrongDevice => "wrong_device",
            Reason::UnknownDevice => "unknown_device",
        }
    }

    /// Counts as malformed (unreadable), not foreign (readable, but not the fleet's).
    pub fn is_malformed(self) -> bool {
        matches!(self, Reason::Malformed | Reason::Oversized)
    }
}

/// The counting side: by reason, and by (reason, topic) up to [`TOPICS_KEPT`].
#[derive(Debug, Clone, Default)]
pub struct Rejected {
    by_reason: [u64; 5],
    by_topic: HashMap<(Reason, String), u64>,
    other_topics: u64,
}

impl Rejected {
    /// Count one message on `topic` for `reason`.
    pub fn count(&mut self, reason: Reason, topic: &str) {
        self.by_reason[reason as usize] += 1;
        let key = (reason, topic.to_string());
        if let Some(n) = self.by_topic.get_mut(&key) {
            *n += 1;
        } else if self.by_topic.len() < TOPICS_KEPT {
            self.by_topic.insert(key, 1);
        } else {
            self.other_topics += 1;
        }
    }

    /// Messages counted for `reason`.
    pub fn of(&self, reason: Reason) -> u64 {
        self.by_reason[reason as usize]
    }

    /// Unreadable messages (malformed and oversized).
    pub fn malformed(&self) -> u64 {
        self.of(Reason::Malformed) + self.of(Reason::Oversized)
    }

    /// Readable messages the fleet did not send.
    pub fn foreign(&self) -> u64 {
        Reason::ALL
            .iter()
            .filter(|r| !r.is_malformed())
            .map(|&r| self.of(r))
            .sum()
    }

    /// What a report says of it.
    pub fn summary(&self) -> RejectedSummary {
        let mut topics: Vec<TopicCount> = self
            .by_topic
            .iter()
            .map(|((reason, topic), &count)| TopicCount {
                reason: *reason,
                topic: topic.clone(),
                count,
            })
            .collect();
        topics.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.topic.cmp(&b.topic)));
        let unlisted = topics
            .iter()
            .skip(TOPICS_LISTED)
            .map(|t| t.count)
            .sum::<u64>();
        topics.truncate(TOPICS_LISTED);
        RejectedSummary {
            malformed: self.of(Reason::Malformed),
            oversized: self.of(Reason::Oversized),
            never_sent: self.of(Reason::NeverSent),
            wrong_device: self.of(Reason::WrongDevice),
            unknown_device: self.of(Reason::UnknownDevice),
            topics,
            other_topics: self.other_topics + unlisted,
        }
    }
}

/// One topic's count for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TopicCount {
    /// Why its messages were not counted.
    pub reason: Reason,
    /// The topic as it came.
    pub topic: String,
    /// How many.
    pub count: u64,
}

/// A report's `rejected` section: what arrived on the fleet's topics and was not counted
/// as its telemetry, by reason, and the topics with the most.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct RejectedSummary {
    /// Undecodable payloads.
    pub malformed: u64,
    /// Payloads over 1 MiB, counted and never decoded.
    pub oversized: u64,
    /// A `seq` the device named by the topic never sent (forged, or a stranger's).
    pub never_sent: u64,
    /// A payload naming another device than its topic.
    pub wrong_device: u64,
    /// A device id not in the fleet.
    pub unknown_device: u64,
    /// The topics with the most, most first (at most 16).
    pub topics: Vec<TopicCount>,
    /// Messages on topics not listed.
    pub other_topics: u64,
}

impl RejectedSummary {
    /// Readable messages the fleet did not send.
    pub fn foreign(&self) -> u64 {
        self.never_sent + self.wrong_device + self.unknown_device
    }

    /// Add another shard's (topics kept by name merge; the list is cut again).
    pub fn merge(&mut self, other: &RejectedSummary) {
        self.malformed += other.malformed;
        self.oversized += other.oversized;
        self.never_sent += other.never_sent;
        self.wrong_device += other.wrong_device;
        self.unknown_device += other.unknown_device;
        self.other_topics += other.other_topics;
        for t in &other.topics {
            match self
                .topics
                .iter_mut()
                .find(|m| m.reason == t.reason && m.topic == t.topic)
            {
                Some(m) => m.count += t.count,
                None => self.topics.push(t.clone()),
            }
        }
        self.topics
            .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.topic.cmp(&b.topic)));
        let cut: u64 = self
            .topics
            .iter()
            .skip(TOPICS_LISTED)
            .map(|t| t.count)
            .sum();
        self.topics.truncate(TOPICS_LISTED);
        self.other_topics += cut;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_kept_by_name_up_to_the_bound_and_counted_beyond() {
        let mut r = Rejected::default();
        r.count(Reason::Malformed, "twin/f/x0/telemetry");
        r.count(Reason::Malformed, "twin/f/x0/telemetry");
        for i in 0..(TOPICS_KEPT + 10) {
            r.count(Reason::UnknownDevice, &format!("twin/f/x{i}/telemetry"));
        }
        assert_eq!(r.by_topic.len(), TOPICS_KEPT);
        let s = r.summary();
        assert_eq!(
            (s.unknown_device, s.malformed),
            (TOPICS_KEPT as u64 + 10, 2)
        );
        assert_eq!(s.topics.len(), TOPICS_LISTED);
        assert_eq!(s.topics[0].count, 2);
        assert_eq!(s.topics[0].reason, Reason::Malformed);
        let listed: u64 = s.topics.iter().map(|t| t.count).sum();
        assert_eq!(listed + s.other_topics, TOPICS_KEPT as u64 + 12);
        assert_eq!((r.malformed(), r.foreign()), (2, TOPICS_KEPT as u64 + 10));
    }
}
