//! What `twin load conn` runs, and the totals it keeps while it runs.

use crate::load::codec::protocol::Protocol;
use crate::load::shard::Shard;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// What `twin load conn` runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnSpec {
    /// Sessions over all shards.
    pub clients: usize,
    /// New connections per second (the ramp) in this process.
    pub ramp_per_s: f64,
    /// How long to hold them once all are up (or the attempts are over).
    pub hold: Duration,
    /// Give up on a connection attempt (TCP connect, CONNECT, CONNACK) after this long.
    pub connect_timeout: Duration,
    /// Broker URL; `None` starts the embedded broker.
    pub broker: Option<String>,
    /// Local addresses to connect from, round-robin by session index; empty: the OS
    /// chooses. All must be of the broker address's family.
    pub source_ips: Vec<IpAddr>,
    /// Which slice of the clients this process opens.
    pub shard: Shard,
    /// MQTT keep-alive sent in CONNECT (whole seconds, at most 65535; 0 = none); the
    /// session pings every half of it.
    pub keep_alive: Duration,
    /// TLS and credentials.
    pub security: crate::transport::endpoint::Security,
    /// MQTT 3.1.1 or 5.
    pub protocol: Protocol,
}

impl Default for ConnSpec {
    fn default() -> Self {
        ConnSpec {
            clients: 100,
            ramp_per_s: 500.0,
            hold: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            broker: None,
            source_ips: Vec::new(),
            shard: Shard::default(),
            keep_alive: Duration::from_secs(60),
            security: Default::default(),
            protocol: Protocol::V311,
        }
    }
}

/// Running totals a caller can sample while the run goes on.
#[derive(Debug, Default)]
pub struct ConnCounters {
    /// Sessions that got CONNACK 0.
    pub connected: AtomicU64,
    /// Attempts that did not (refusals included).
    pub failed: AtomicU64,
    /// Of those, refused by a non-zero CONNACK.
    pub refused: AtomicU64,
    /// Sessions up now (connected, not dropped, not yet released).
    pub up: AtomicU64,
}
