//! What `twin load sub` runs.

use crate::load::codec::protocol::Protocol;
use crate::load::shard::Shard;
use crate::transport::endpoint::Security;
use std::time::Duration;

/// What `twin load sub` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SubSpec {
    /// Subscribing sessions over all shards.
    pub clients: usize,
    /// Topic filter (MQTT wildcards allowed).
    pub filter: String,
    /// Subscription QoS.
    pub qos: u8,
    /// How long to listen once subscribed.
    pub duration: Duration,
    /// Stop a subscriber after it received this many messages.
    pub count: Option<u64>,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
    /// Give up on a session with no SUBACK after this long.
    pub connect_timeout: Duration,
    /// How long a first connection that fails for the network (a name that does not
    /// resolve, a refused port) is tried again before the run fails; zero: not at all.
    pub wait_for_broker: Duration,
    /// Which slice of the clients this process runs.
    pub shard: Shard,
    /// TLS and credentials.
    pub security: Security,
    /// MQTT 3.1.1 or 5.
    pub protocol: Protocol,
}

impl Default for SubSpec {
    fn default() -> Self {
        SubSpec {
            clients: 1,
            filter: "twin-load/#".into(),
            qos: 1,
            duration: Duration::from_secs(10),
            count: None,
            broker: None,
            connect_timeout: Duration::from_secs(10),
            wait_for_broker: Duration::ZERO,
            shard: Shard::default(),
            security: Security::default(),
            protocol: Protocol::V311,
        }
    }
}
