//! Serial devices: newline-delimited JSON over a serial port (a USB serial adapter, an
//! ESP32's or a Pico's USB CDC port), bridged into MQTT so their telemetry takes the same
//! path as every other device's.
//!
//! For each serial device the session runs a [`bridge`] task. It opens the port, splits
//! what it reads into lines ([`LineFramer`]) and publishes each line on
//! `twin/{fleet}/{device}/serial/telemetry`; it writes each payload of
//! `twin/{fleet}/{device}/serial/cmd` to the port as one line; and it keeps a retained
//! `online`/`offline` on `twin/{fleet}/{device}/serial/status`. The mirror reads those
//! topics with the generic JSON adapter, so readings, shadows and the report work as
//! for any JSON device. A port that cannot be opened, or goes away, marks the device
//! offline, and the task tries again with backoff until the mirror stops.

use crate::adapter::config::AdapterConfig;
pub use crate::adapter::serial::topics::{Topics, is_bridge_topic};
use crate::config::mirror::MirrorConfig;
use rumqttc::{AsyncClient, QoS};
use sim_core::transport::backoff::Backoff;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_serial::{ClearBuffer, SerialPort, SerialPortBuilderExt};

/// What the framer made of the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One line, without its `\n` or `\r\n`; not checked for UTF-8 or JSON.
    Line(Vec<u8>),
    /// A line longer than the limit, dropped: its length in bytes.
    TooLong(usize),
}

/// Splits a byte stream into lines. A line may arrive over several reads and several
/// lines in one read; `\r\n` ends a line like `\n`; empty lines are skipped. A line over
/// the limit is not kept past it: the rest is skipped up to its end and only its length
/// is reported, so a device that never sends a newline cannot grow memory.
#[derive(Debug)]
pub struct LineFramer {
    /// The line so far.
    buf: Vec<u8>,
    /// Longest line accepted, in bytes, line ending excluded.
    max: usize,
    /// Inside an over-long line: its length so far.
    skipping: Option<usize>,
    /// Whether the last byte taken was '\r' (the start of a "\r\n", perhaps).
    last_cr: bool,
}

impl LineFramer {
    /// A framer for lines of at most `max` bytes.
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            max,
            skipping: None,
            last_cr: false,
        }
    }

    /// Take bytes as read; returns the lines they completed.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (part, ended) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            bytes = &bytes[(part.len() + usize::from(ended))..];
            if let Some(b) = part.last() {
                self.last_cr = *b == b'\r';
            }
            match &mut self.skipping {
                Some(len) => *len += part.len(),
                None => {
                    self.buf.extend_from_slice(part);
                    // One byte of slack for the '\r' of a "\r\n" not seen yet.
                    if self.buf.len() > self.max + 1 {
                        self.skipping = Some(self.buf.len());
                        self.buf = Vec::new();
                    }
                }
            }
            if !ended {
                break;
            }
            let cr = std::mem::take(&mut self.last_cr);
            match self.skipping.take() {
                Some(len) => out.push(Frame::TooLong(len - usize::from(cr))),
                None => {
                    let mut line = std::mem::take(&mut self.buf);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > self.max {
                        out.push(Frame::TooLong(line.len()));
                    } else if !line.is_empty() {
                        out.push(Frame::Line(line));
                    }
                }
            }
        }
        out
    }

    /// The port closed: forget a line cut off by it; returns how many bytes it had.
    pub fn reset(&mut self) -> usize {
        let cut = self.skipping.take().unwrap_or(self.buf.len());
        self.buf.clear();
        self.last_cr = false;
        cut
    }
}

/// A command payload as the line written to the port: JSON re-encoded compactly on one
/// line, other text as it is; a payload that would not stay one line is refused.
pub fn command_line(payload: &[u8]) -> Result<Vec<u8>, String> {
    let mut line = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(v) => v.to_string().into_bytes(),
        Err(_) => {
            let text = std::str::from_utf8(payload)
                .map_err(|_| "a command must be JSON or text".to_string())?;
            let text = text.trim_end_matches(['\r', '\n']);
            if text.contains(['\r', '\n']) {
                return Err("a command that is not JSON must be one line".into());
            }
            text.as_bytes().to_vec()
        }
    };
    line.push(b'\n');
    Ok(line)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn lines_split_across_reads_come_out_whole() {
        let mut f = LineFramer::new(64);
        assert_eq!(f.push(b"{\"temperature\":2"), vec![]);
        assert_eq!(f.push(b"1.5}"), vec![]);
        assert_eq!(
            f.push(b"\n{\"relay\":true}\n{\"hum"),
            vec![line("{\"temperature\":21.5}"), line("{\"relay\":true}")]
        );
        assert_eq!(f.push(b"idity\":40}\n"), vec![line("{\"humidity\":40}")]);
        // One byte at a time.
        let mut out = Vec::new();
        for b in b"{\"a\":1}\n" {
            out.extend(f.push(&[*b]));
        }
        assert_eq!(out, vec![line("{\"a\":1}")]);
    }

    #[test]
    fn crlf_ends_a_line_and_empty_lines_are_skipped() {
        let mut f = LineFramer::new(64);
        assert_eq!(
            f.push(b"{\"a\":1}\r\n\r\n\n{\"b\":2}\r"),
            vec![line("{\"a\":1}")]
        );
        assert_eq!(f.push(b"\n"), vec![line("{\"b\":2}")]);
        // A '\r' inside a line is the device's business.
        assert_eq!(f.push(b"a\rb\n"), vec![line("a\rb")]);
    }

    #[test]
    fn over_long_lines_are_measured_not_kept() {
        let mut f = LineFramer::new(8);
        // Exactly at the limit, with or without '\r': a line.
        assert_eq!(f.push(b"12345678\n"), vec![line("12345678")]);
        assert_eq!(f.push(b"12345678\r\n"), vec![line("12345678")]);
        // One over: too long, even when the '\r' slack was used.
        assert_eq!(f.push(b"123456789\n"), vec![Frame::TooLong(9)]);
        assert_eq!(f.push(b"123456789\r\n"), vec![Frame::TooLong(9)]);
        // A long line over many reads: counted to its end, the memory stays bounded.
        for _ in 0..1000 {
            assert_eq!(f.push(&[b'x'; 100]), vec![]);
            assert!(f.buf.len() <= 9);
        }
        assert_eq!(
            f.push(b"xx\n{\"ok\":1}\n"),
            vec![Frame::TooLong(100_002), line("{\"ok\":1}")]
        );
        // Binary junk is a line like any other; the adapter judges it.
        assert_eq!(
            f.push(b"\xff\xfe\x00\n"),
            vec![Frame::Line(vec![0xff, 0xfe, 0])]
        );
    }

    #[test]
    fn a_line_cut_by_the_port_closing_is_forgotten() {
        let mut f = LineFramer::new(8);
        f.push(b"{\"a\":");
        assert_eq!(f.reset(), 5);
        assert_eq!(f.push(b"1}\n"), vec![line("1}")]);
        f.push(&[b'x'; 20]);
        assert_eq!(f.reset(), 20);
        assert_eq!(f.reset(), 0);
    }

    #[test]
    fn commands_become_one_line() {
        assert_eq!(
            command_line(b"{ \"set\" : {\n  \"relay\": true\n} }").as_deref(),
            Ok(&b"{\"set\":{\"relay\":true}}\n"[..])
        );
        assert_eq!(command_line(b"reboot\r\n").as_deref(), Ok(&b"reboot\n"[..]));
        assert!(command_line(b"two\nlines").is_err());
        assert!(command_line(b"\xff").is_err());
    }

    #[test]
    fn bridge_topics() {
        let t = Topics::new("home", "bench");
        assert_eq!(t.telemetry, "twin/home/bench/serial/telemetry");
        assert_eq!(t.status, "twin/home/bench/serial/status");
        assert_eq!(t.cmd, "twin/home/bench/serial/cmd");
        assert!(is_bridge_topic(&t.telemetry) && is_bridge_topic(&t.cmd));
        assert!(!is_bridge_topic("twin/home/bench/telemetry"));
        assert!(!is_bridge_topic("sensors/bench/serial/telemetry"));
    }
}
