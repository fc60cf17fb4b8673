//! What `twin load pub` runs.

use crate::load::buffer::BufferPolicy;
use crate::load::codec::protocol::Protocol;
use crate::load::shard::Shard;
use crate::transport::endpoint::Security;
use std::time::Duration;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// MQTT sessions over all shards.
    pub clients: usize,
    /// Devices each session publishes for (1 = one device per session; more = gateway).
    pub devices_per_session: usize,
    /// Time between two messages of one device.
    pub interval: Duration,
    /// QoS of publish and subscribe.
    pub qos: u8,
    /// Publish with the retain flag.
    pub retain: bool,
    /// Payload size in bytes (at least the 32-byte header).
    pub size: usize,
    /// Topic template: `%i` device index, `%c` client id, `%s` shard index.
    pub topic: String,
    /// How long each session publishes once connected.
    pub duration: Duration,
    /// Messages per device, if bounded by count (the smaller bound wins).
    pub count: Option<u64>,
    /// How long to wait for stragglers after the last publish.
    pub drain: Duration,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
    /// New sessions per second; `None`: as fast as the broker accepts them.
    pub ramp_per_s: Option<f64>,
    /// Give up on a session that has no CONNACK after this long.
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
    /// Local addresses the publishing sessions connect from, round-robin.
    pub source_ips: Vec<std::net::IpAddr>,
    /// Subscribers counting the messages (more than one share the subscription).
    pub subscribers: usize,
    /// A JSON object to publish instead of padding (`%i`, `%c`, `%s` filled in per
    /// device); the accounting goes in as its first member, `"twl"`.
    pub payload: Option<String>,
    /// Most QoS 1/2 messages a session has awaiting acknowledgement.
    pub inflight: usize,
    /// Most messages a device keeps while it cannot write them.
    pub buffer: usize,
    /// Most bytes a device keeps while it cannot write them.
    pub buffer_bytes: usize,
    /// What a device does with a due message when its buffer is full.
    pub buffer_policy: BufferPolicy,
    /// Ask the broker to keep the sessions (clean session off; MQTT 5: a session
    /// expiry of [`PERSISTENT_EXPIRY_S`]), so the subscriber's subscription and its
    /// queued messages survive a lost connection.
    pub persistent: bool,
    /// When the broker supports less than `qos` (CONNACK Maximum QoS, or a SUBACK that
    /// grants less), publish at its limit and record the downgrade, instead of refusing
    /// the run.
    pub downgrade_qos: bool,
}

/// Session expiry of `persistent` MQTT 5 sessions, seconds: long enough to ride out a
/// broker restart, short enough not to leave a load run's sessions behind for long.
pub const PERSISTENT_EXPIRY_S: u32 = 300;

/// Reconnection attempts per second over a run when `--ramp` does not set it.
pub const DEFAULT_RECONNECT_RATE: f64 = 1000.0;

impl Default for LoadSpec {
    fn default() -> Self {
        LoadSpec {
            clients: 10,
            devices_per_session: 1,
            interval: Duration::from_millis(100),
            qos: 1,
            retain: false,
            size: 64,
            topic: "twin-load/%s/%i".into(),
            duration: Duration::from_secs(10),
            count: None,
            drain: Duration::from_secs(5),
            broker: None,
            ramp_per_s: None,
            connect_timeout: Duration::from_secs(10),
            wait_for_broker: Duration::ZERO,
            shard: Shard::default(),
            security: Security::default(),
            protocol: Protocol::V311,
            source_ips: Vec::new(),
            payload: None,
            subscribers: 1,
            inflight: 20,
            buffer: 1000,
            buffer_bytes: 1 << 20,
            buffer_policy: BufferPolicy::default(),
            persistent: false,
            downgrade_qos: false,
        }
    }
}
