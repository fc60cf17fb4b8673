//! What discovery shares between conventions: the [`Scan`] each convention's
//! `discover.rs` reads the seen messages from and adds the devices it recognised to,
//! and the helpers that write a device's lines of TOML.

use crate::adapter::Adapter;
use crate::adapter::config::AdapterConfig;
use crate::adapter::event::{Event, Outcome};
use crate::discover::listen::{KEEP, Seen};
use std::collections::{BTreeMap, BTreeSet};

/// A device recognised in the traffic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    /// Its id, before it is made unique and sanitised.
    pub id: String,
    /// Its `[[device]]` lines after `id`.
    pub lines: Vec<String>,
    /// The comment above it: what it is and what it read.
    pub comment: String,
}

/// The messages seen, and what the conventions made of them so far. The conventions run
/// in turn; each claims the topics it reads, so that generic JSON, which runs last,
/// does not take a device's topic for a device of its own.
pub(crate) struct Scan<'a> {
    /// Every topic's last message.
    pub seen: &'a [Seen],
    /// The same, by topic.
    pub by_topic: BTreeMap<&'a str, &'a Seen>,
    /// Topics a recognised device reads, or that belong to a convention's bookkeeping.
    pub claimed: BTreeSet<&'a str>,
    /// The devices recognised, in the order they are written.
    pub found: Vec<Found>,
    /// What each convention found, with what to call it in a comment, to tell a device
    /// announced twice (ESPHome and Tasmota also announce themselves by Home Assistant
    /// discovery).
    pub known: Vec<(String, Adapter)>,
    /// Comments for what was seen and not mirrored, and why.
    pub notes: Vec<String>,
}

impl<'a> Scan<'a> {
    /// A scan of `seen`, nothing recognised yet.
    pub fn new(seen: &'a [Seen]) -> Scan<'a> {
        Scan {
            seen,
            by_topic: seen.iter().map(|s| (s.topic.as_str(), s)).collect(),
            claimed: BTreeSet::new(),
            found: Vec::new(),
            known: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Claim every seen topic that starts with `prefix`.
    pub fn claim_prefix(&mut self, prefix: &str) {
        let seen = self.seen;
        for s in seen.iter().filter(|s| s.topic.starts_with(prefix)) {
            self.claimed.insert(&s.topic);
        }
    }
}

/// Every reading the adapter finds in the seen messages, and the topics it read.
pub(crate) fn decode_all<'a>(
    cfg: &AdapterConfig,
    seen: &'a [Seen],
) -> (Vec<(String, f64)>, Vec<&'a str>) {
    let mut a = Adapter::new(cfg.clone());
    let mut readings: Vec<(String, f64)> = Vec::new();
    let mut topics = Vec::new();
    for s in seen {
        if !a.wants(&s.topic) {
            continue;
        }
        topics.push(s.topic.as_str());
        if let Outcome::Events(ev) = a.decode(&s.topic, &s.payload, KEEP) {
            for e in ev {
                if let Event::Reading(n, v) = e
                    && !readings.iter().any(|(m, _)| *m == n)
                {
                    readings.push((n, v));
                }
            }
        }
    }
    (readings, topics)
}

pub(crate) fn model_line(readings: &[(String, f64)]) -> Option<String> {
    let has = |k: &str| readings.iter().any(|(n, _)| n == k);
    (has("temperature") || has("power")).then(|| {
        format!(
            "model = {}",
            quote(sim_core::ingest::guess_model(readings).name())
        )
    })
}

pub(crate) fn reading_list(readings: &[(String, f64)]) -> String {
    if readings.is_empty() {
        return String::new();
    }
    let r: Vec<String> = readings.iter().map(|(n, v)| format!("{n} {v}")).collect();
    format!(": {}", r.join(", "))
}

pub(crate) fn pointer_table(keys: &[&String]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} = {}",
                bare_or_quoted(k),
                quote(&format!("/{}", k.replace('~', "~0").replace('/', "~1")))
            )
        })
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

fn bare_or_quoted(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A TOML basic string.
pub(crate) fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A device id from a topic or name: no '/', '+', '#'.
pub(crate) fn sanitise(s: &str) -> String {
    let id: String = s
        .chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#') || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    if id.is_empty() { "device".into() } else { id }
}
