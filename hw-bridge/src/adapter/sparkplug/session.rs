//! What an edge node's messages taught the adapter so far: its sessions (`bdSeq`), its
//! `seq`, and the metrics its last BIRTH declared.

use crate::adapter::sparkplug::proto::{Metric, MetricValue, datatype};
use crate::error::BridgeError;
use std::collections::BTreeMap;

/// What an edge node's messages taught so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Session {
    /// `bdSeq` of the node's last NBIRTH: an NDEATH carrying another is stale.
    pub bd_seq: Option<u64>,
    /// `seq` of the node's last message, to see gaps; `None` before the first and after
    /// an NDEATH (the next session starts at NBIRTH).
    pub last_seq: Option<u64>,
    /// Messages lost before a message of ours that could not be read: reported with the
    /// next one that can.
    pub lost: u64,
    /// The mirrored node's (or device's) metrics as its last BIRTH declared them.
    pub birth: Birth,
    /// A BIRTH has been seen since the mirror started (or since the node's death).
    pub born: bool,
    /// A rebirth was asked for since the last BIRTH, so it is not asked again for
    /// every DATA message.
    pub rebirth_asked: bool,
}

/// Metrics declared by a BIRTH.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Birth {
    /// Alias → metric name.
    pub names: BTreeMap<u64, String>,
    /// Metric name → (alias, datatype).
    pub metrics: BTreeMap<String, (Option<u64>, u32)>,
}

impl Session {
    /// Follow the node's `seq`; the number of messages missing before this one.
    pub fn follow(&mut self, seq: u64, birth: bool) -> u64 {
        let gap = match self.last_seq {
            // An NBIRTH starts the count again.
            _ if birth => 0,
            // The same seq again is a redelivery, not 255 lost.
            Some(last) if seq != last => (seq + 256 - last - 1) % 256,
            _ => 0,
        };
        self.last_seq = Some(seq);
        gap
    }
}

/// Our name for a Sparkplug metric: lower case, '/' and spaces as '_'.
pub(crate) fn local_name(metric: &str) -> String {
    metric.to_lowercase().replace(['/', ' '], "_")
}

impl Birth {
    /// The metrics a BIRTH declares, or why they cannot be read.
    pub fn declare(metrics: &[Metric]) -> Result<Birth, BridgeError> {
        let mut b = Birth::default();
        for m in metrics {
            let Some(name) = &m.name else {
                return Err(BridgeError::Malformed(
                    "a BIRTH metric without a name".into(),
                ));
            };
            if let Some(a) = m.alias
                && let Some(other) = b.names.insert(a, name.clone())
                && other != *name
            {
                return Err(BridgeError::Malformed(format!(
                    "alias {a} names both \"{other}\" and \"{name}\""
                )));
            }
            let dt = m.datatype.unwrap_or_else(|| inferred(&m.value));
            b.metrics.insert(name.clone(), (m.alias, dt));
        }
        Ok(b)
    }
}

/// The datatype a value's field suggests, when nobody declared one.
fn inferred(v: &Option<MetricValue>) -> u32 {
    match v {
        Some(MetricValue::Int(_)) => datatype::UINT32,
        Some(MetricValue::Long(_)) => datatype::UINT64,
        Some(MetricValue::Float(_)) => datatype::FLOAT,
        Some(MetricValue::Double(_)) => datatype::DOUBLE,
        Some(MetricValue::Boolean(_)) => datatype::BOOLEAN,
        Some(MetricValue::String(_)) => datatype::STRING,
        Some(MetricValue::Bytes(_)) => datatype::BYTES,
        None => datatype::UNKNOWN,
    }
}
