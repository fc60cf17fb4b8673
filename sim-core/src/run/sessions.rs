//! The sessions phase: an MQTT session per device, or one per edge gateway for the
//! devices behind it; and the router that turns the sim's session changes into what
//! each device's [`Path`] does.

use super::state::{Run, Sessions};
use crate::flow::{PER_DEVICE, Window};
use crate::sim::{InboundCommand, SessionCommand};
use crate::transport::gateway::{GatewayLink, Path};
use crate::transport::session::{self, SessionCtx, SessionSignal, SessionStats, Speaks};
use crate::transport::shutdown::{self, Shutdown};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use scenarios::{GatewaySpec, fill_template};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

/// A device's own session queues this many requests: a device with a backlog this deep
/// is dropping at source.
const DEVICE_QUEUE: usize = 32;

/// What every session of the run shares.
struct Common {
    cmd_tx: mpsc::Sender<InboundCommand>,
    stats: Arc<SessionStats>,
    permits: Arc<Semaphore>,
    shutdown: Shutdown,
    window: Option<Arc<Window>>,
    qos: QoS,
}

impl Common {
    /// Start the session task for `client`.
    fn spawn(
        &self,
        speaks: Speaks,
        client: &AsyncClient,
        signal: Arc<SessionSignal>,
        eventloop: rumqttc::EventLoop,
    ) -> JoinHandle<()> {
        let ctx = SessionCtx {
            speaks,
            client: client.clone(),
            qos: self.qos,
            cmd_tx: self.cmd_tx.clone(),
            stats: self.stats.clone(),
            connect_permits: self.permits.clone(),
            signal,
            shutdown: self.shutdown.clone(),
            window: self.window.clone(),
        };
        tokio::spawn(session::run(ctx, eventloop))
    }
}

impl Run<'_> {
    /// A session per gateway and per device without one; returns the client each
    /// device publishes through (for the dispatcher) and the commands the sessions
    /// receive (for the sim).
    pub(super) fn start_sessions(
        &self,
        window: Option<Arc<Window>>,
    ) -> (Sessions, Vec<AsyncClient>, mpsc::Receiver<InboundCommand>) {
        let n = self.ids.len();
        let (cmd_tx, cmd_rx) = mpsc::channel(4096);
        let (stop, shutdown) = shutdown::signal();
        let common = Common {
            cmd_tx,
            stats: Arc::new(SessionStats::default()),
            permits: Arc::new(Semaphore::new(self.opts.connect_concurrency.max(1))),
            shutdown,
            window,
            qos: self.qos,
        };
        let mut clients: Vec<Option<AsyncClient>> = vec![None; n];
        let mut paths: Vec<Option<Path>> = (0..n).map(|_| None).collect();
        let mut tasks = Vec::new();
        let mut gateways = Vec::new();
        for gw in &self.gateways {
            let (link, task) = self.start_gateway(gw, &common);
            for (k, &d) in gw.devices.iter().enumerate() {
                clients[d] = Some(link.client.clone());
                paths[d] = Some(Path::Behind(link.clone(), k));
            }
            tasks.push(task);
            gateways.push(link);
        }
        for i in 0..n {
            if clients[i].is_none() {
                let (client, signal, task) = self.start_own(i, &common);
                clients[i] = Some(client);
                paths[i] = Some(Path::Own(signal));
                tasks.push(task);
            }
        }
        let sessions = Sessions {
            paths: Arc::new(paths.into_iter().flatten().collect()),
            gateways,
            tasks,
            stats: common.stats,
            stop,
        };
        (sessions, clients.into_iter().flatten().collect(), cmd_rx)
    }

    /// Options for the session of `id` (a device's or a gateway's): its client id, and
    /// its last will on its status topic.
    fn options_for(&self, id: &str) -> (MqttOptions, String) {
        let s = self.scenario;
        let status_topic = fill_template(&s.mqtt.status_topic, &s.fleet, id);
        let client_id = fill_template(&s.mqtt.client_id, &s.fleet, id);
        let o = session::options(&client_id, &self.endpoint, s.mqtt.keep_alive, &status_topic);
        (o, status_topic)
    }

    /// Device `i`'s own session.
    fn start_own(
        &self,
        i: usize,
        common: &Common,
    ) -> (AsyncClient, Arc<SessionSignal>, JoinHandle<()>) {
        let s = self.scenario;
        let id = &self.ids[i];
        let (o, status_topic) = self.options_for(id);
        let (client, eventloop) = AsyncClient::new(o, DEVICE_QUEUE);
        let signal = Arc::new(SessionSignal::default());
        signal.want_online.store(true, Ordering::Release);
        let speaks = Speaks::Device {
            index: i as u32,
            cmd_topic: fill_template(&s.mqtt.command_topic, &s.fleet, id),
            status_topic,
        };
        let task = common.spawn(speaks, &client, signal.clone(), eventloop);
        (client, signal, task)
    }

    /// A gateway's session, for its devices.
    fn start_gateway(
        &self,
        gw: &GatewaySpec,
        common: &Common,
    ) -> (Arc<GatewayLink>, JoinHandle<()>) {
        let s = self.scenario;
        let (mut o, status_topic) = self.options_for(&gw.id);
        let k = gw.devices.len();
        o.set_inflight(gateway_inflight(k, self.qos));
        // Room for every device's status and the subscriptions at a connect, and for
        // as many messages a device as its own session would queue.
        let queue = (k * DEVICE_QUEUE).clamp(64, 1 << 20) + 2 * k + 8;
        let (client, eventloop) = AsyncClient::new(o, queue);
        let topics = |t: &str| -> Vec<String> {
            gw.devices
                .iter()
                .map(|&d| fill_template(t, &s.fleet, &self.ids[d]))
                .collect()
        };
        let link = Arc::new(GatewayLink::new(
            client.clone(),
            status_topic,
            gw.devices.iter().map(|&d| d as u32).collect(),
            topics(&s.mqtt.status_topic),
            topics(&s.mqtt.command_topic),
        ));
        let speaks = Speaks::Gateway(link.clone());
        let task = common.spawn(speaks, &client, link.signal.clone(), eventloop);
        (link, task)
    }
}

/// A gateway keeps as many QoS 1 messages unacknowledged as its devices would, up to
/// rumqttc's default of 100; QoS 2 stays within Mosquitto's receive quota of 20.
fn gateway_inflight(devices: usize, qos: QoS) -> u16 {
    let wanted = devices.saturating_mul(PER_DEVICE as usize);
    let cap = if qos == QoS::ExactlyOnce { 20 } else { 100 };
    wanted.clamp(1, cap) as u16
}

/// Turn the sim's session changes into what each device's path does, until the sim
/// drops its end.
pub(super) async fn route_sessions(
    mut rx: mpsc::UnboundedReceiver<SessionCommand>,
    paths: Arc<Vec<Path>>,
    gateways: Vec<Arc<GatewayLink>>,
) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            SessionCommand::Disconnect(i) | SessionCommand::Reconnect(i) => {
                let online = matches!(cmd, SessionCommand::Reconnect(_));
                if let Some(p) = paths.get(i as usize) {
                    p.set_online(online);
                }
            }
            SessionCommand::GatewayDown(g) => {
                if let Some(gw) = gateways.get(g as usize) {
                    gw.set_online(false);
                }
            }
        }
    }
}
