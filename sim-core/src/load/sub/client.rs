//! The load engine's subscribing sessions, over MQTT 3.1.1 or MQTT 5 (rumqttc's two
//! clients), reduced to the events the subscribers count. (Publishers use `lean`.)

use crate::load::codec::protocol::Protocol;
use crate::transport::endpoint::Endpoint;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::{Outgoing, Packet};
use std::time::Duration;

/// What a session's event loop produced, as far as the load engine cares.
#[derive(Debug)]
pub enum Ev {
    /// Connected.
    ConnAck,
    /// Subscribed.
    SubAck,
    /// A message arrived.
    Publish(Bytes),
    /// The DISCONNECT we asked for went out.
    Disconnected,
    /// Anything else.
    Other,
    /// The connection failed; `Some(why)` when retrying cannot help.
    Error(Option<String>),
}

/// The requesting half of a session.
#[derive(Clone)]
pub enum Client {
    /// MQTT 3.1.1.
    V4(rumqttc::AsyncClient),
    /// MQTT 5.
    V5(rumqttc::v5::AsyncClient),
}

/// The event loop of a session.
pub enum Loop {
    /// MQTT 3.1.1.
    V4(Box<rumqttc::EventLoop>),
    /// MQTT 5.
    V5(Box<rumqttc::v5::EventLoop>),
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// Open a session (nothing happens on the wire until the loop is polled).
pub fn session(
    ep: &Endpoint,
    protocol: Protocol,
    client_id: String,
    keep_alive: Duration,
    max_packet: usize,
    cap: usize,
) -> (Client, Loop) {
    match protocol {
        Protocol::V311 => {
            let mut o = ep.options(client_id);
            o.set_keep_alive(keep_alive);
            o.set_max_packet_size(max_packet, max_packet);
            let (c, l) = rumqttc::AsyncClient::new(o, cap);
            (Client::V4(c), Loop::V4(Box::new(l)))
        }
        Protocol::V5 => {
            let mut o = ep.options_v5(client_id);
            o.set_keep_alive(keep_alive);
            o.set_max_packet_size(Some(max_packet as u32));
            let (c, l) = rumqttc::v5::AsyncClient::new(o, cap);
            (Client::V5(c), Loop::V5(Box::new(l)))
        }
    }
}

impl Client {
    /// Ask for a subscription without waiting.
    pub fn try_subscribe(&self, filter: &str, qos: u8) {
        let ok = match self {
            Client::V4(c) => c.try_subscribe(filter, crate::run::qos_of(qos)).is_ok(),
            Client::V5(c) => c.try_subscribe(filter, qos5(qos)).is_ok(),
        };
        if !ok {
            tracing::debug!(filter, "subscribe request not queued");
        }
    }

    /// Ask for a clean disconnect without waiting.
    pub fn try_disconnect(&self) {
        let ok = match self {
            Client::V4(c) => c.try_disconnect().is_ok(),
            Client::V5(c) => c.try_disconnect().is_ok(),
        };
        if !ok {
            tracing::debug!("disconnect request not queued");
        }
    }
}

impl Loop {
    /// The next event.
    pub async fn next(&mut self) -> Ev {
        match self {
            Loop::V4(l) => match l.poll().await {
                Ok(rumqttc::Event::Incoming(p)) => match p {
                    Packet::ConnAck(_) => Ev::ConnAck,
                    Packet::SubAck(_) => Ev::SubAck,
                    Packet::Publish(p) => Ev::Publish(p.payload),
                    _ => Ev::Other,
                },
                Ok(rumqttc::Event::Outgoing(o)) => outgoing(o),
                Err(e) => Ev::Error(fatal_v4(&e)),
            },
            Loop::V5(l) => match l.poll().await {
                Ok(rumqttc::v5::Event::Incoming(p)) => match p {
                    p5::Packet::ConnAck(_) => Ev::ConnAck,
                    p5::Packet::SubAck(_) => Ev::SubAck,
                    p5::Packet::Publish(p) => Ev::Publish(p.payload),
                    _ => Ev::Other,
                },
                Ok(rumqttc::v5::Event::Outgoing(o)) => outgoing(o),
                Err(e) => Ev::Error(fatal_v5(&e)),
            },
        }
    }
}

fn outgoing(o: Outgoing) -> Ev {
    match o {
        Outgoing::Disconnect => Ev::Disconnected,
        _ => Ev::Other,
    }
}

/// A 3.1.1 connection error that retrying cannot fix (refused CONNACK, TLS failure), as
/// a sentence for the user.
pub fn fatal_v4(e: &rumqttc::ConnectionError) -> Option<String> {
    use rumqttc::ConnectReturnCode as C;
    use rumqttc::ConnectionError as E;
    match e {
        E::ConnectionRefused(code) => Some(format!(
            "the broker refused the connection ({})",
            match code {
                C::BadUserNamePassword => "bad user name or password",
                C::NotAuthorized => "not authorized",
                C::BadClientId => "client id rejected",
                C::ServiceUnavailable => "service unavailable",
                C::RefusedProtocolVersion => "protocol version refused",
                _ => "refused",
            }
        )),
        E::Tls(t) => Some(format!("TLS failed: {t}")),
        _ => None,
    }
}

fn fatal_v5(e: &rumqttc::v5::ConnectionError) -> Option<String> {
    use rumqttc::v5::ConnectionError as E;
    match e {
        E::ConnectionRefused(code) => Some(format!("the broker refused the connection ({code:?})")),
        E::Tls(t) => Some(format!("TLS failed: {t}")),
        _ => None,
    }
}
