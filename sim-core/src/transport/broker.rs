//! The embedded broker: rumqttd inside the process on a free loopback port.
//!
//! It has no shutdown: rumqttd 0.20's `Broker::start` spawns its router and server
//! threads, each with a runtime of its own, and offers no handle to stop them. So the
//! broker lives until the process exits; a run that started it simply stops using it.

pub use crate::error::BrokerError;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// A running in-process rumqttd. It lives until the process exits (see the module doc).
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    /// Where it listens (127.0.0.1, a free port).
    pub addr: SocketAddr,
}

impl EmbeddedBroker {
    /// Start rumqttd on 127.0.0.1 and a free port, sized for `max_connections` sessions,
    /// and wait until it accepts connections.
    pub fn start(max_connections: usize) -> Result<EmbeddedBroker, BrokerError> {
        // rumqttd binds its own listener from a config address and does not report the
        // port it got, so ask the OS for a free port first and hand that over.
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let config = config(addr, max_connections);
        std::thread::Builder::new()
            .name("twin-broker".into())
            .spawn(move || {
                let mut broker = rumqttd::Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded broker stopped");
                }
            })?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(BrokerError::NotListening(addr));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(EmbeddedBroker { addr })
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://{}", self.addr)
    }
}

fn config(addr: SocketAddr, max_connections: usize) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: 256 * 1024,
        max_inflight_count: 1000,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "twin-v4".into(),
        listen: addr,
        tls: None,
        // No pause between accepts: a fleet connects thousands of sessions at once.
        next_connection_delay_ms: 0,
        connections,
    };
    let router = rumqttd::RouterConfig {
        max_connections: max_connections.max(64) + 64,
        max_outgoing_packet_count: 2000,
        max_segment_size: 16 * 1024 * 1024,
        max_segment_count: 8,
        ..Default::default()
    };
    rumqttd::Config {
        id: 0,
        router,
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    }
}
