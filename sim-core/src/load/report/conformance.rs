//! The parts of the load reports that say how the broker speaks MQTT: what its CONNACK
//! announced ([`BrokerLimits`]) and every reason code it sent ([`ReasonCount`]).

use crate::load::codec::connack::Connack;
use serde::{Deserialize, Serialize};

/// What the broker's CONNACK announced (MQTT 5 properties, §3.2.2.3); `null` for what
/// it did not send (the spec's default: no limit, available). A 3.1.1 broker announces
/// nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BrokerLimits {
    /// Receive Maximum: QoS 1/2 publishes it takes unacknowledged per session.
    pub receive_maximum: Option<u16>,
    /// Server Keep Alive, seconds: replaces the keep-alive the sessions asked for.
    pub server_keep_alive: Option<u16>,
    /// Maximum QoS (0 or 1).
    pub maximum_qos: Option<u8>,
    /// Maximum Packet Size, bytes.
    pub maximum_packet_size: Option<u32>,
    /// Retain Available.
    pub retain_available: Option<bool>,
    /// Wildcard Subscription Available.
    pub wildcard_subscriptions: Option<bool>,
    /// Shared Subscription Available.
    pub shared_subscriptions: Option<bool>,
    /// Topic Alias Maximum (twin sends no aliases).
    pub topic_alias_maximum: Option<u16>,
    /// Assigned Client Identifier (twin always sends one, so a broker should not).
    pub assigned_client_id: Option<String>,
}

impl From<&Connack> for BrokerLimits {
    fn from(c: &Connack) -> Self {
        BrokerLimits {
            receive_maximum: c.receive_maximum,
            server_keep_alive: c.server_keep_alive,
            maximum_qos: c.maximum_qos,
            maximum_packet_size: c.maximum_packet_size,
            retain_available: c.retain_available,
            wildcard_subscriptions: c.wildcard_available,
            shared_subscriptions: c.shared_available,
            topic_alias_maximum: c.topic_alias_maximum,
            assigned_client_id: c.assigned_client_id.clone(),
        }
    }
}

/// How often the broker sent one packet with one reason code: every DISCONNECT (by its
/// reason; 0 is a normal disconnection) and every non-zero reason code in PUBACK,
/// PUBREC, PUBCOMP and SUBACK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReasonCount {
    /// `DISCONNECT`, `PUBACK`, `PUBREC`, `PUBCOMP` or `SUBACK`.
    pub packet: String,
    /// The reason code.
    pub code: u8,
    /// Its name in the spec (§2.4).
    pub name: String,
    /// How many times.
    pub count: u64,
}

/// Add `more` into `into`, by packet and code.
pub fn add_reasons(into: &mut Vec<ReasonCount>, more: &[ReasonCount]) {
    for r in more {
        match into
            .iter_mut()
            .find(|x| x.packet == r.packet && x.code == r.code)
        {
            Some(x) => x.count += r.count,
            None => into.push(r.clone()),
        }
    }
    into.sort_by(|a, b| (&a.packet, a.code).cmp(&(&b.packet, b.code)));
}
