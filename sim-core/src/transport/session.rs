//! One MQTT session per device, or per edge gateway for the devices behind it: a task
//! that only polls its rumqttc `EventLoop`.
//!
//! Publishing happens elsewhere (the dispatcher) through the session's `AsyncClient`;
//! awaiting `publish()` inside the polling task would deadlock once rumqttc's request
//! channel fills. What differs between a device's session and a gateway's (statuses,
//! subscriptions, whose commands) is in [`Speaks`]; the gateway's side is in `gateway`.

pub use super::gateway::GatewayLink;
use super::shutdown::Shutdown;
pub use super::signal::SessionSignal;
use crate::sim::InboundCommand;
use crate::wire::CommandPayload;
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use scenarios::SetValue;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, Semaphore, mpsc};

/// Counters shared by all sessions.
#[derive(Debug, Default)]
pub struct SessionStats {
    /// Devices whose session has had a CONNACK at least once (a gateway's first CONNACK
    /// counts all its devices).
    pub connected: AtomicU64,
    /// Connection attempts that failed.
    pub connect_errors: AtomicU64,
    /// Successful connections after the first one.
    pub reconnects: AtomicU64,
    /// Command payloads that were not `{"set":{...}}` JSON.
    pub malformed_commands: AtomicU64,
    /// Commands dropped because the sim's inbox was full.
    pub commands_dropped: AtomicU64,
    /// Woken whenever `connected` grows.
    pub connected_notify: Notify,
    /// Which warnings of refused commands are logged (a few each ten seconds).
    pub warns: std::sync::Mutex<crate::warn_limit::WarnLimit<&'static str>>,
}

/// The largest command payload a device reads; a larger one is refused unread (a
/// command is a small JSON object).
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Whose session it is.
pub enum Speaks {
    /// A device's own.
    Device {
        /// Fleet index.
        index: u32,
        /// Its command topic.
        cmd_topic: String,
        /// Its retained status topic.
        status_topic: String,
    },
    /// An edge gateway's, for the devices behind it.
    Gateway(Arc<GatewayLink>),
}

/// What a session task needs.
pub struct SessionCtx {
    /// Whose session it is.
    pub speaks: Speaks,
    /// For publishing status and subscribing.
    pub client: AsyncClient,
    /// Telemetry QoS (used for the command subscription too).
    pub qos: QoS,
    /// To the sim.
    pub cmd_tx: mpsc::Sender<InboundCommand>,
    /// Shared counters.
    pub stats: Arc<SessionStats>,
    /// Limits connection attempts in flight so thousands of sessions ramp up.
    pub connect_permits: Arc<Semaphore>,
    /// Online/offline requests from the sim.
    pub signal: Arc<SessionSignal>,
    /// The run is over: send `offline`, DISCONNECT and end.
    pub shutdown: Shutdown,
    /// The run's flow window: before going off line the session lets the device's
    /// messages in flight through.
    pub window: Option<Arc<crate::flow::Window>>,
}

/// Options for one device session: client id, keep-alive, last will `offline` retained;
/// TLS and credentials from the endpoint.
pub fn options(
    client_id: &str,
    endpoint: &super::endpoint::Endpoint,
    keep_alive: f64,
    status_topic: &str,
) -> MqttOptions {
    let mut o = endpoint.options(client_id);
    o.set_keep_alive(Duration::from_secs_f64(keep_alive.max(5.0)));
    o.set_clean_session(true);
    // Read whatever a broker may send: a command over a smaller limit would cost the
    // connection, and a retained one every connection after it. It is refused unread.
    o.set_max_packet_size(crate::wire::MQTT_MAX_PACKET, 256 * 1024);
    o.set_last_will(LastWill::new(
        status_topic,
        "offline",
        QoS::AtLeastOnce,
        true,
    ));
    o
}

/// Convert a command payload into sim keys; `None` if it is not a `{"set":{...}}` object
/// of booleans, numbers and strings, or `{"command":"<name>"}` (a user model's named
/// command, handed on as the key `command`).
pub fn parse_command(payload: &[u8]) -> Option<Vec<(String, SetValue)>> {
    let cmd: CommandPayload = serde_json::from_slice(payload).ok()?;
    let named = cmd
        .command
        .map(|c| ("command".to_string(), SetValue::Text(c)));
    let set: Option<Vec<(String, SetValue)>> = cmd
        .set
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::Bool(b) => SetValue::Bool(b),
                serde_json::Value::Number(n) => SetValue::Number(n.as_f64()?),
                serde_json::Value::String(s) => SetValue::Text(s),
                _ => return None,
            };
            Some((k, v))
        })
        .collect();
    let mut set = set?;
    set.extend(named);
    Some(set)
}

/// Poll the session until shutdown.
pub async fn run(ctx: SessionCtx, mut eventloop: EventLoop) {
    let mut ever_connected = false;
    let mut permit = None;
    let mut backoff = super::backoff::Backoff::default();
    let mut stop = ctx.shutdown.clone();
    loop {
        if stop.is_fired() {
            shutdown(&ctx, &mut eventloop).await;
            return;
        }
        if !ctx.signal.want_online.load(Ordering::Acquire) {
            // What the device published before it went off the air left it first.
            if eventloop.network.is_some() {
                settle(&ctx, &mut eventloop).await;
            }
            // Drop the socket without DISCONNECT: the broker fires the last will.
            eventloop.network = None;
            eventloop.clean();
            tokio::select! {
                _ = ctx.signal.notify.notified() => {}
                _ = stop.recv() => {}
            }
            continue;
        }
        if !ever_connected && permit.is_none() {
            permit = tokio::select! {
                p = ctx.connect_permits.clone().acquire_owned() => p.ok(),
                _ = stop.recv() => continue,
            };
        }
        let event = tokio::select! {
            _ = ctx.signal.notify.notified() => continue,
            _ = stop.recv() => continue,
            ev = eventloop.poll() => ev,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                permit = None;
                backoff.reset();
                connected(&ctx, ever_connected);
                ever_connected = true;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if let Some(device) = ctx.device_of(&p.topic) {
                    command(&ctx, device, &p);
                }
            }
            Ok(_) => {}
            Err(e) => {
                permit = None;
                ctx.stats.connect_errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, "session error; reconnecting");
                tokio::select! {
                    _ = ctx.signal.notify.notified() => {}
                    _ = stop.recv() => {}
                    _ = tokio::time::sleep(backoff.next_wait()) => {}
                }
            }
        }
    }
}

/// Longest wait, before a session drops, for the device's messages still in flight: the
/// few the dispatcher just handed over go out in a poll or two. It is short because
/// the wait is sim time too (at speed 360, 20 ms is 7 sim seconds, and an offline alert
/// is graded by when it comes), and because a message a reorder fault holds for the
/// device's next one stays in flight until the device is back.
const SETTLE: Duration = Duration::from_millis(20);

/// Poll until every message of the session's devices is through (the flow window counts
/// none in flight for them), at most [`SETTLE`]: a battery that dies after its last
/// message, or a link that drops after one, sent it. Without a window there is nothing
/// to wait for.
async fn settle(ctx: &SessionCtx, eventloop: &mut EventLoop) {
    let Some(window) = &ctx.window else {
        return;
    };
    let deadline = tokio::time::Instant::now() + SETTLE;
    while ctx.in_flight(window) && tokio::time::Instant::now() < deadline {
        tokio::select! {
            ev = eventloop.poll() => if ev.is_err() { return },
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
    }
}

impl SessionCtx {
    /// The device a command on `topic` is for.
    fn device_of(&self, topic: &str) -> Option<u32> {
        match &self.speaks {
            Speaks::Device { index, .. } => Some(*index),
            Speaks::Gateway(g) => g.device_of(topic),
        }
    }

    /// Whether a device of the session has messages in flight.
    fn in_flight(&self, window: &crate::flow::Window) -> bool {
        match &self.speaks {
            Speaks::Device { index, .. } => window.device_in_flight(*index) > 0,
            Speaks::Gateway(g) => g.in_flight(window),
        }
    }
}

/// A CONNACK: count it, say `online` (retained) and subscribe to commands again
/// (clean session).
fn connected(ctx: &SessionCtx, before: bool) {
    if before {
        ctx.stats.reconnects.fetch_add(1, Ordering::Relaxed);
    } else {
        let devices = match &ctx.speaks {
            Speaks::Device { .. } => 1,
            Speaks::Gateway(g) => g.devices() as u64,
        };
        ctx.stats.connected.fetch_add(devices, Ordering::Release);
        ctx.stats.connected_notify.notify_waiters();
    }
    match &ctx.speaks {
        Speaks::Device {
            cmd_topic,
            status_topic,
            ..
        } => {
            let _ = ctx
                .client
                .try_publish(status_topic, QoS::AtLeastOnce, true, "online");
            let _ = ctx.client.try_subscribe(cmd_topic, ctx.qos);
        }
        Speaks::Gateway(g) => g.connected(ctx.qos),
    }
}

/// A command for `device`: to the sim without waiting (a full inbox drops it, counted).
fn command(ctx: &SessionCtx, device: u32, p: &rumqttc::Publish) {
    let parsed = if p.payload.len() > MAX_COMMAND_BYTES {
        None
    } else {
        parse_command(&p.payload)
    };
    match parsed {
        Some(set) => {
            let cmd = InboundCommand { device, set };
            if ctx.cmd_tx.try_send(cmd).is_err() {
                ctx.stats.commands_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        None => {
            ctx.stats.malformed_commands.fetch_add(1, Ordering::Relaxed);
            refused_command(ctx, p);
        }
    }
}

/// Warn of a refused command, a few each ten seconds for all sessions together; the
/// rest are said in one line.
fn refused_command(ctx: &SessionCtx, p: &rumqttc::Publish) {
    let Ok(mut warns) = ctx.stats.warns.lock() else {
        return;
    };
    let now = std::time::Instant::now();
    let (log, unsaid) = warns.admit("command", now);
    if let Some(more) = unsaid {
        tracing::warn!(
            "{more} more command payloads refused in the last {} s",
            warns.window_secs()
        );
    }
    if log {
        let bytes = p.payload.len();
        if bytes > MAX_COMMAND_BYTES {
            tracing::warn!(topic = %p.topic, bytes, "command payload refused: over {MAX_COMMAND_BYTES} bytes");
        } else {
            tracing::warn!(topic = %p.topic, bytes, "malformed command payload; expected {{\"set\":{{...}}}}");
        }
    }
}

/// Mark the device (or the gateway and its devices) offline (retained), DISCONNECT, and
/// poll until the packets are out.
async fn shutdown(ctx: &SessionCtx, eventloop: &mut EventLoop) {
    if eventloop.network.is_none() {
        return;
    }
    match &ctx.speaks {
        Speaks::Device { status_topic, .. } => {
            let _ = ctx
                .client
                .try_publish(status_topic, QoS::AtLeastOnce, true, "offline");
        }
        Speaks::Gateway(g) => g.goodbye(),
    }
    let _ = ctx.client.try_disconnect();
    until_disconnected(eventloop, Duration::from_secs(3)).await;
}

/// After a DISCONNECT, how long to read on until the broker closes the connection.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// Poll `eventloop` until the DISCONNECT queued on its client is written (or the
/// connection ends), for at most `within`: what is queued before it goes out too. Then
/// read on until the broker closes (at most [`CLOSE_WAIT`]): a socket closed with the
/// broker's messages still unread is reset, and a broker writing to it then sees the
/// reset ("Broken pipe") before the DISCONNECT, not a clean goodbye.
pub(crate) async fn until_disconnected(eventloop: &mut EventLoop, within: Duration) {
    let drain = async {
        loop {
            match eventloop.poll().await {
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                Err(_) => return,
                Ok(_) => {}
            }
        }
        let closed = async { while eventloop.poll().await.is_ok() {} };
        let _ = tokio::time::timeout(CLOSE_WAIT, closed).await;
    };
    let _ = tokio::time::timeout(within, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_or_are_refused() {
        assert_eq!(
            parse_command(br#"{"set":{"on":true,"setpoint":21.5}}"#),
            Some(vec![
                ("on".into(), SetValue::Bool(true)),
                ("setpoint".into(), SetValue::Number(21.5))
            ])
        );
        assert_eq!(parse_command(b"on"), None);
        assert_eq!(parse_command(br#"{"set":{"on":[1]}}"#), None);
        assert_eq!(parse_command(br#"{"get":{}}"#), None);
    }
}
