//! What every emulated device shares: the [`Emulator`] handle tests hold, its [`Log`],
//! and the loop that runs a [`Firmware`] as a real MQTT session.

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What a device's temperature is, given seconds since it started.
pub type Curve = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// What an emulator did, for tests to check.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Log {
    /// Native commands received: (topic, payload).
    pub commands: Vec<(String, String)>,
    /// Its switch (Tasmota POWER, ESPHome `fan`, the JSON sensor's `relay`).
    pub switch_on: bool,
    /// Telemetry messages published.
    pub published: u64,
    /// Sequence numbers to skip before the next data message, for a test that makes a
    /// gap on purpose (the Sparkplug node reads it).
    pub skip_seq: u64,
}

/// A running emulator; killed (connection dropped, last will fired) on [`Emulator::kill`]
/// or drop.
#[derive(Debug)]
pub struct Emulator {
    task: JoinHandle<()>,
    log: Arc<Mutex<Log>>,
}

impl Emulator {
    /// What it did so far.
    pub fn log(&self) -> Log {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Drop the connection without DISCONNECT: the broker publishes the last will.
    pub fn kill(&self) {
        self.task.abort();
    }

    /// Skip `n` sequence numbers before the next data message, as if `n` messages were
    /// lost on the way (the Sparkplug node skips them before its next DDATA).
    pub fn skip_seq(&self, n: u64) {
        if let Ok(mut l) = self.log.lock() {
            l.skip_seq += n;
        }
    }

    /// Wait until `check` holds for the log, at most `timeout`.
    pub async fn wait_for(&self, timeout: Duration, check: impl Fn(&Log) -> bool) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if check(&self.log()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        check(&self.log())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Session options for an emulated device: its client id and last will.
fn options(url: &str, id: &str, will: LastWill) -> MqttOptions {
    let (host, port) =
        scenarios::BrokerUrl::parse(url).map_or(("127.0.0.1".into(), 1883), |u| (u.host, u.port));
    let mut o = MqttOptions::new(id, host, port);
    o.set_keep_alive(Duration::from_secs(5));
    o.set_last_will(will);
    o
}

/// A retained text last will (`offline`, `Offline`, `lost`).
pub(crate) fn text_will(topic: &str, payload: &str) -> LastWill {
    LastWill::new(topic, payload.as_bytes().to_vec(), QoS::AtLeastOnce, true)
}

/// Messages to publish: (topic, payload, retain).
pub(crate) type Msgs = Vec<(String, Vec<u8>, bool)>;

/// What a device does: on connect, on each period, on each command.
pub(crate) trait Firmware: Send + 'static {
    /// Connected: the topics to subscribe to and what to publish (births, retained state).
    fn on_connect(&mut self) -> (Vec<String>, Msgs);
    /// `t` seconds after start: the periodic telemetry.
    fn on_period(&mut self, t: f64, log: &mut Log) -> Msgs;
    /// A message on a subscribed topic: what to answer.
    fn on_command(&mut self, topic: &str, payload: &[u8], t: f64, log: &mut Log) -> Msgs;
    /// A command as [`Log::commands`] keeps it: its text, unless the firmware reads a
    /// binary format.
    fn describe(&self, _topic: &str, payload: &[u8]) -> String {
        String::from_utf8_lossy(payload).into_owned()
    }
}

/// Run `fw` as a real MQTT session on `url`, ticking every `every`, until killed.
pub(crate) fn spawn(
    url: &str,
    id: &str,
    will: LastWill,
    every: Duration,
    mut fw: impl Firmware,
) -> Emulator {
    let log = Arc::new(Mutex::new(Log::default()));
    let opts = options(url, id, will);
    let task = {
        let log = log.clone();
        tokio::spawn(async move {
            let (client, mut eventloop) = AsyncClient::new(opts, 256);
            let started = Instant::now();
            let mut tick = tokio::time::interval(every);
            let mut connected = false;
            let send = |msgs: Msgs| {
                for (topic, payload, retain) in msgs {
                    let _ = client.try_publish(topic, QoS::AtLeastOnce, retain, payload);
                }
            };
            loop {
                tokio::select! {
                    ev = eventloop.poll() => match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connected = true;
                            let (subs, msgs) = fw.on_connect();
                            for s in subs {
                                let _ = client.try_subscribe(s, QoS::AtLeastOnce);
                            }
                            send(msgs);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let text = fw.describe(&p.topic, &p.payload);
                            let msgs = match log.lock() {
                                Ok(mut l) => {
                                    l.commands.push((p.topic.clone(), text));
                                    fw.on_command(&p.topic, &p.payload, started.elapsed().as_secs_f64(), &mut l)
                                }
                                Err(_) => Vec::new(),
                            };
                            send(msgs);
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    },
                    _ = tick.tick(), if connected => {
                        let msgs = match log.lock() {
                            Ok(mut l) => fw.on_period(started.elapsed().as_secs_f64(), &mut l),
                            Err(_) => Vec::new(),
                        };
                        send(msgs);
                    }
                }
            }
        })
    };
    Emulator { task, log }
}
