//! An edge gateway's side of a session: the devices behind it share its MQTT session, as
//! sensors behind a Pi or ESP32 hub do. Each device keeps its own telemetry topic,
//! `seq`, command topic and retained status; the gateway's own status topic carries its
//! last will, so when its session drops every device behind it goes off line at once.
//!
//! [`Path`] is how the run's router reaches a device: its own session's signal, or its
//! gateway (a device's own off and on line become statuses its gateway publishes).

use super::signal::SessionSignal;
use crate::flow::Window;
use rumqttc::{AsyncClient, QoS, SubscribeFilter};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Most topic filters in one SUBSCRIBE.
const FILTERS_PER_SUBSCRIBE: usize = 100;

/// One gateway and the devices behind it, shared by its session task and the router.
pub struct GatewayLink {
    /// For publishing statuses and subscribing (the dispatcher publishes telemetry
    /// through a clone).
    pub client: AsyncClient,
    /// Its own retained status topic (its last will's).
    pub status_topic: String,
    /// Fleet index of each device behind it.
    pub members: Vec<u32>,
    /// Each device's retained status topic.
    pub member_status: Vec<String>,
    /// Fleet index by each device's command topic (what the gateway subscribes to).
    by_command: HashMap<String, u32>,
    /// Whether each device is on line (the sim says; a gateway that connects again
    /// publishes each device's status from it).
    online: Vec<AtomicBool>,
    /// Whether the gateway itself should be connected.
    pub signal: Arc<SessionSignal>,
}

impl GatewayLink {
    /// A gateway for `members` (fleet indices, with their status and command topics),
    /// every device on line.
    pub fn new(
        client: AsyncClient,
        status_topic: String,
        members: Vec<u32>,
        member_status: Vec<String>,
        member_commands: Vec<String>,
    ) -> GatewayLink {
        let by_command = member_commands
            .into_iter()
            .zip(members.iter().copied())
            .collect();
        let signal = Arc::new(SessionSignal::default());
        signal.want_online.store(true, Ordering::Release);
        GatewayLink {
            client,
            status_topic,
            online: members.iter().map(|_| AtomicBool::new(true)).collect(),
            members,
            member_status,
            by_command,
            signal,
        }
    }

    /// How many devices it holds.
    pub fn devices(&self) -> usize {
        self.members.len()
    }

    /// The device a command on `topic` is for.
    pub(super) fn device_of(&self, topic: &str) -> Option<u32> {
        self.by_command.get(topic).copied()
    }

    /// Whether a device behind it has messages in flight.
    pub(super) fn in_flight(&self, window: &Window) -> bool {
        self.members.iter().any(|&m| window.device_in_flight(m) > 0)
    }

    /// After a CONNACK: `online` for itself, each device's status, and the devices'
    /// command subscriptions again (clean session).
    pub(super) fn connected(&self, qos: QoS) {
        self.say(&self.status_topic, true);
        for (k, topic) in self.member_status.iter().enumerate() {
            self.say(topic, self.online[k].load(Ordering::Acquire));
        }
        let topics: Vec<&String> = self.by_command.keys().collect();
        for chunk in topics.chunks(FILTERS_PER_SUBSCRIBE) {
            let filters = chunk.iter().map(|&t| SubscribeFilter::new(t.clone(), qos));
            let _ = self.client.try_subscribe_many(filters);
        }
    }

    /// At the end of the run: every device and the gateway `offline`.
    pub(super) fn goodbye(&self) {
        for topic in &self.member_status {
            self.say(topic, false);
        }
        self.say(&self.status_topic, false);
    }

    /// Device `k` (its place behind the gateway) goes off or on line on its own; the
    /// gateway says so on the device's status topic.
    pub fn member(&self, k: usize, online: bool) {
        self.online[k].store(online, Ordering::Release);
        self.say(&self.member_status[k], online);
    }

    /// A retained status, without waiting (a full queue loses it, as it would a
    /// device's own).
    fn say(&self, topic: &str, online: bool) {
        let word = if online { "online" } else { "offline" };
        let _ = self.client.try_publish(topic, QoS::AtLeastOnce, true, word);
    }

    /// The gateway's session goes off line (its last will fires) or comes back.
    pub fn set_online(&self, online: bool) {
        self.signal.want_online.store(online, Ordering::Release);
        self.signal.notify.notify_one();
    }
}

/// How the router reaches a device.
pub enum Path {
    /// Its own session.
    Own(Arc<SessionSignal>),
    /// Its gateway, where it is the `k`th device.
    Behind(Arc<GatewayLink>, usize),
}

impl Path {
    /// The device goes off line (its own session drops; behind a gateway, the gateway
    /// says `offline` for it) or comes back (behind a gateway that is down, the gateway
    /// connects again).
    pub fn set_online(&self, online: bool) {
        match self {
            Path::Own(s) => {
                s.want_online.store(online, Ordering::Release);
                s.notify.notify_one();
            }
            Path::Behind(g, k) => {
                g.member(*k, online);
                if online && !g.signal.want_online.load(Ordering::Acquire) {
                    g.set_online(true);
                }
            }
        }
    }
}
