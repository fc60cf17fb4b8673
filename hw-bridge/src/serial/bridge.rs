//! The bridge task: one serial device's port opened, read, written and watched, with its
//! lines, status and commands carried over MQTT.

use crate::adapter::config::AdapterConfig;
use crate::adapter::serial::topics::Topics;
use crate::config::mirror::MirrorConfig;
use crate::serial::framer::{Frame, LineFramer, command_line};
use rumqttc::{AsyncClient, QoS};
use sim_core::transport::backoff::Backoff;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_serial::{ClearBuffer, SerialPort, SerialPortBuilderExt};

/// One serial device the session bridges.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The mirrored device's id.
    pub device: String,
    /// The serial device path.
    pub port: String,
    /// Its baud rate.
    pub baud: u32,
    /// Where its lines, status and commands go.
    pub topics: Topics,
    /// Lines longer than this are counted as malformed, not published.
    pub max_payload: usize,
}

/// The serial devices of a configuration.
pub fn links(cfg: &MirrorConfig) -> Vec<Link> {
    cfg.devices
        .iter()
        .filter_map(|d| match &d.adapter {
            AdapterConfig::Serial(s) => Some(Link {
                device: d.id.clone(),
                port: s.port.clone(),
                baud: s.baud,
                topics: Topics::new(&cfg.fleet, &d.id),
                max_payload: cfg.max_payload,
            }),
            _ => None,
        })
        .collect()
}

/// What a bridge tells the session besides what it publishes.
#[derive(Debug, Clone, PartialEq)]
pub enum BridgeEvent {
    /// A line worth showing a person (the port opened, closed, cannot be opened).
    Note(String),
    /// A line that was never published (over `max_payload`): count it on the device.
    Malformed {
        /// The device.
        device: String,
        /// Where it came from (the port).
        source: String,
        /// Why it was not read.
        why: String,
    },
}

/// Commands waiting for a port; past this, the session drops them and says so.
pub const COMMAND_QUEUE: usize = 64;

/// Bridge one serial device into MQTT until the task is aborted: open the port, publish
/// its lines, write the commands from `cmd_rx`, and on failure mark the device offline
/// and try again with backoff. Publishes through `client` (whose event loop the session
/// polls); `events` carries notes and over-long lines to the session.
pub async fn bridge(
    link: Link,
    client: AsyncClient,
    mut cmd_rx: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<BridgeEvent>,
) {
    let note = |text: String| {
        let events = events.clone();
        async move {
            let _ = events.send(BridgeEvent::Note(text)).await;
        }
    };
    let status = |online: bool| {
        let client = client.clone();
        let topic = link.topics.status.clone();
        async move {
            let word = if online { "online" } else { "offline" };
            let _ = client.publish(topic, QoS::AtLeastOnce, true, word).await;
        }
    };
    let (id, port) = (&link.device, &link.port);
    let mut backoff = Backoff::default();
    let mut failures: u64 = 0;
    // Whether the status topic says offline already (after a close, or a failed open).
    let mut said_offline = false;
    loop {
        match open(&link) {
            Ok(stream) => {
                backoff.reset();
                failures = 0;
                note(format!(
                    "{id}: serial port {port} open at {} baud",
                    link.baud
                ))
                .await;
                status(true).await;
                let why = pump(&link, stream, &client, &mut cmd_rx, &events).await;
                tracing::warn!(device = %id, port = %port, "serial port closed: {why}");
                note(format!("{id}: serial port {port} closed: {why}")).await;
                status(false).await;
                said_offline = true;
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(100) {
                    tracing::warn!(device = %id, port = %port, failures, "cannot open the serial port: {e}");
                }
                if failures == 1 {
                    note(format!(
                        "{id}: serial port {port} cannot be opened: {e}; retrying"
                    ))
                    .await;
                }
                if !said_offline {
                    status(false).await;
                    said_offline = true;
                }
            }
        }
        // Commands for a closed port are dropped: the mirror sends what is still wanted
        // when the device is back online.
        let wait = tokio::time::sleep(backoff.next_wait());
        tokio::pin!(wait);
        loop {
            tokio::select! {
                _ = &mut wait => break,
                cmd = cmd_rx.recv() => match cmd {
                    Some(_) => tracing::warn!(device = %id, port = %port, "serial port closed: a command was dropped"),
                    None => return,
                },
            }
        }
    }
}

fn open(link: &Link) -> Result<tokio_serial::SerialStream, tokio_serial::Error> {
    let stream = tokio_serial::new(&link.port, link.baud).open_native_async()?;
    // Bytes the driver held from before: likely a line cut in the middle.
    let _ = stream.clear(ClearBuffer::Input);
    Ok(stream)
}

/// Move lines and commands through an open port until it closes; returns why it did.
async fn pump(
    link: &Link,
    stream: tokio_serial::SerialStream,
    client: &AsyncClient,
    cmd_rx: &mut mpsc::Receiver<Vec<u8>>,
    events: &mpsc::Sender<BridgeEvent>,
) -> String {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut framer = LineFramer::new(link.max_payload);
    let mut buf = vec![0u8; 4096];
    let why = loop {
        tokio::select! {
            n = rd.read(&mut buf) => match n {
                Ok(0) => break "end of file".to_string(),
                Ok(n) => {
                    for frame in framer.push(&buf[..n]) {
                        match frame {
                            Frame::Line(line) => {
                                // Fails only once the session is gone, and this task with it.
                                let _ = client.publish(link.topics.telemetry.as_str(), QoS::AtLeastOnce, false, line).await;
                            }
                            Frame::TooLong(len) => {
                                let _ = events.send(BridgeEvent::Malformed {
                                    device: link.device.clone(),
                                    source: link.port.clone(),
                                    why: format!("{}: line of {len} bytes is over the {}-byte limit", link.port, link.max_payload),
                                }).await;
                            }
                        }
                    }
                }
                Err(e) => break e.to_string(),
            },
            cmd = cmd_rx.recv() => match cmd {
                Some(payload) => match command_line(&payload) {
                    Ok(line) => {
                        if let Err(e) = wr.write_all(&line).await {
                            break format!("writing a command: {e}");
                        }
                    }
                    Err(e) => tracing::warn!(device = %link.device, topic = %link.topics.cmd, "command not written: {e}"),
                },
                None => break "the mirror stopped".to_string(),
            },
        }
    };
    let cut = framer.reset();
    if cut > 0 {
        tracing::debug!(device = %link.device, "a line of {cut} bytes was cut off by the port closing");
    }
    why
}
