//! `twin mirror` over MQTT: one session subscribes to every device's topics and the
//! shadow update topic, hands each message to the [`Mirror`], and publishes what it
//! answers (native commands, shadow documents) from a separate task, so a full request
//! queue never blocks the polling loop. Serial devices are bridged into the same session
//! by a task each ([`crate::serial::bridge`]): their lines come back to the mirror over
//! the broker like any device's telemetry, and their commands go out through it.

use crate::MirrorConfig;
use crate::error::BridgeError;
use crate::mirror::{Mirror, Publish};
use crate::report::MirrorReport;
use crate::serial::{self, BridgeEvent};
use rumqttc::{AsyncClient, ConnectionError, Event, Packet, QoS, SubscribeFilter};
use sim_core::report::BrokerInfo;
use sim_core::transport::backoff::Backoff;
use sim_core::transport::endpoint::Endpoint;
use sim_core::transport::reach::{self, ProbeLimits};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Largest message the mirror's session accepts. Past it the broker connection would be
/// dropped, so it is set high: a huge payload is read, counted as malformed and dropped.
pub const MAX_INCOMING: usize = 16 * 1024 * 1024;

/// How a mirror run goes.
#[derive(Debug, Clone)]
pub struct MirrorOptions {
    /// The broker, as given (for the report).
    pub url: String,
    /// How to reach it.
    pub endpoint: Endpoint,
    /// Stop after this long; `None`: until stopped.
    pub duration: Option<Duration>,
    /// Give up when no connection is made in this time.
    pub connect_timeout: Duration,
    /// How long a broker whose name does not resolve or whose port refuses connections
    /// is tried again at the start (a broker still starting); zero: not at all.
    pub wait_for_broker: Duration,
    /// The session's client id.
    pub client_id: String,
    /// Record every message the mirror sees to this file, as `twin record` writes it
    /// (NDJSON, flushed every tick), for `twin replay`.
    pub record: Option<std::path::PathBuf>,
}

/// Seconds since the Unix epoch, the mirror's clock.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Mirror until `duration` passes or `stop` is set; `notes` receives lines worth showing
/// a person as they happen.
pub async fn run(
    cfg: &MirrorConfig,
    opts: MirrorOptions,
    stop: Arc<AtomicBool>,
    notes: Option<mpsc::UnboundedSender<String>>,
) -> Result<MirrorReport, BridgeError> {
    // One connection first, as the session would make it: a broker that cannot be used
    // (no such name, a closed port, an untrusted certificate, refused credentials) ends
    // the mirror at once with the reason, instead of retrying until --duration.
    let limits = ProbeLimits {
        connect_timeout: opts.connect_timeout,
        wait_for_broker: opts.wait_for_broker,
    };
    reach::probe(&opts.url, &opts.endpoint, limits, &stop).await?;
    let mut mo = opts.endpoint.options(opts.client_id.clone());
    mo.set_keep_alive(Duration::from_secs(30));
    mo.set_max_packet_size(MAX_INCOMING, 1024 * 1024);
    let (client, mut eventloop) = AsyncClient::new(mo, 1024);
    let mut recording = match &opts.record {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|source| BridgeError::Read {
                path: path.display().to_string(),
                source,
            })?,
        )),
        None => None,
    };
    let (bridge_tx, mut bridge_rx) = mpsc::channel::<BridgeEvent>(256);
    let mut s = Session::new(cfg, client, bridge_tx, notes, &opts.url);
    let started = Instant::now();
    let deadline = opts.duration.map(|d| started + d);
    let mut backoff = Backoff::default();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let interrupted = loop {
        if stop.load(Ordering::Relaxed) {
            break true;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break false;
        }
        tokio::select! {
            // Biased, bridge events first: a serial line counted here is counted before
            // anything the bridge published after it comes back from the broker.
            biased;
            Some(ev) = bridge_rx.recv() => s.on_bridge_event(ev),
            _ = tick.tick() => {
                s.on_tick();
                if let Some(w) = recording.as_mut() {
                    use std::io::Write as _;
                    let _ = w.flush();
                }
            }
            ev = eventloop.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    s.on_connected()?;
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if let Some(w) = recording.as_mut() {
                        record_line(w, &p);
                    }
                    s.on_publish(&p);
                }
                Ok(_) => {}
                Err(e) => {
                    if let ConnectionError::ConnectionRefused(code) = e {
                        return Err(s.broker(refusal_words(code)));
                    }
                    if !s.ever_connected && started.elapsed() >= opts.connect_timeout {
                        let secs = opts.connect_timeout.as_secs_f64();
                        return Err(s.broker(format!("unreachable for {secs:.0} s: {e}")));
                    }
                    tracing::warn!(error = %e, "mirror session lost; reconnecting");
                    tokio::time::sleep(backoff.next_wait()).await;
                }
            },
        }
    };
    if let Some(w) = recording.as_mut() {
        use std::io::Write as _;
        let _ = w.flush();
    }
    let report = s.finish(interrupted);
    // Let queued commands and documents go out before saying goodbye.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let flush = tokio::spawn(async move { while eventloop.poll().await.is_ok() {} });
        let _ = s.sender.await;
        let _ = s.client.disconnect().await;
        let _ = flush.await;
    })
    .await;
    Ok(report)
}

/// One message the mirror saw, as a line of a recording (a write error is logged, and
/// the mirror goes on).
fn record_line(w: &mut impl std::io::Write, p: &rumqttc::Publish) {
    let line = sim_core::recording::line::Line::new(
        unix_now(),
        &p.topic,
        p.qos as u8,
        p.retain,
        &p.payload,
    );
    if let Err(e) = line.write_to(w) {
        tracing::warn!("recording what the mirror sees: {e}");
    }
}

/// A running mirror session: the mirror, its outgoing queue, and its serial bridges.
struct Session {
    /// The state machine every message goes through.
    mirror: Mirror,
    /// The session's client (its event loop is polled by [`run`]).
    client: AsyncClient,
    /// The broker URL, for errors and the report.
    url: String,
    /// Every filter to subscribe to, again on each reconnect.
    filters: Vec<SubscribeFilter>,
    /// The serial devices bridged.
    links: Vec<serial::Link>,
    /// Serial command topics → the bridge that writes them to its port.
    cmd_routes: HashMap<String, mpsc::Sender<Vec<u8>>>,
    /// Bridges not started yet: they start once subscribed, so the mirror hears their
    /// first lines.
    unstarted: Vec<(serial::Link, mpsc::Receiver<Vec<u8>>)>,
    /// Where bridges send their notes and over-long lines.
    bridge_tx: mpsc::Sender<BridgeEvent>,
    /// The running bridges, aborted at the end.
    bridges: Vec<tokio::task::JoinHandle<()>>,
    /// Publishing awaits the request queue; it must not happen in the polling loop, so
    /// this queue feeds a task that does it.
    pub_tx: Option<mpsc::Sender<Publish>>,
    /// That task.
    sender: tokio::task::JoinHandle<()>,
    /// Where notes go (else the log).
    notes: Option<mpsc::UnboundedSender<String>>,
    /// Whether a connection was ever made (the first one sends the documents and starts
    /// the bridges; until then a failure past the timeout is fatal).
    ever_connected: bool,
}

impl Session {
    fn new(
        cfg: &MirrorConfig,
        client: AsyncClient,
        bridge_tx: mpsc::Sender<BridgeEvent>,
        notes: Option<mpsc::UnboundedSender<String>>,
        url: &str,
    ) -> Session {
        let mirror = Mirror::new(cfg, unix_now());
        let links = serial::links(cfg);
        let filters: Vec<SubscribeFilter> = mirror
            .subscriptions()
            .into_iter()
            .chain(links.iter().map(|l| l.topics.cmd.clone()))
            .map(|f| SubscribeFilter::new(f, QoS::AtLeastOnce))
            .collect();
        let mut cmd_routes = HashMap::new();
        let mut unstarted = Vec::new();
        for l in &links {
            let (tx, rx) = mpsc::channel(serial::COMMAND_QUEUE);
            cmd_routes.insert(l.topics.cmd.clone(), tx);
            unstarted.push((l.clone(), rx));
        }
        let (pub_tx, mut pub_rx) = mpsc::channel::<Publish>(4096);
        let sender = {
            let client = client.clone();
            tokio::spawn(async move {
                while let Some(p) = pub_rx.recv().await {
                    if client
                        .publish(p.topic, QoS::AtLeastOnce, p.retain, p.payload)
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            })
        };
        Session {
            mirror,
            client,
            url: url.to_string(),
            filters,
            links,
            cmd_routes,
            unstarted,
            bridge_tx,
            bridges: Vec::new(),
            pub_tx: Some(pub_tx),
            sender,
            notes,
            ever_connected: false,
        }
    }

    fn broker(&self, message: String) -> BridgeError {
        BridgeError::Broker {
            url: self.url.clone(),
            message,
        }
    }

    /// Queue what the mirror answered; a full queue drops it, with a warning.
    fn send(&self, out: Vec<Publish>) {
        let Some(tx) = &self.pub_tx else { return };
        for p in out {
            if tx.try_send(p).is_err() {
                tracing::warn!("mirror: outgoing queue full, a publish was dropped");
            }
        }
    }

    fn note(&self, n: String) {
        match &self.notes {
            Some(tx) => {
                let _ = tx.send(n);
            }
            None => tracing::info!("{n}"),
        }
    }

    fn flush_notes(&mut self) {
        for n in self.mirror.take_notes() {
            self.note(n);
        }
    }

    fn on_bridge_event(&mut self, ev: BridgeEvent) {
        match ev {
            BridgeEvent::Note(n) => self.note(n),
            BridgeEvent::Malformed {
                device,
                source,
                why,
            } => {
                self.mirror.count_malformed(&device, &source, why);
                self.flush_notes();
            }
        }
    }

    fn on_tick(&mut self) {
        let out = self.mirror.tick(unix_now());
        self.send(out);
        self.flush_notes();
    }

    /// Subscribe (again); the first time, send the documents and start the bridges.
    fn on_connected(&mut self) -> Result<(), BridgeError> {
        if self
            .client
            .try_subscribe_many(self.filters.clone())
            .is_err()
        {
            return Err(self.broker("could not queue the subscriptions".into()));
        }
        if !self.ever_connected {
            self.ever_connected = true;
            let docs = self.mirror.documents();
            self.send(docs);
            for (link, cmd_rx) in self.unstarted.drain(..) {
                let bridge =
                    serial::bridge(link, self.client.clone(), cmd_rx, self.bridge_tx.clone());
                self.bridges.push(tokio::spawn(bridge));
            }
        }
        Ok(())
    }

    /// A serial command goes to its port; anything else to the mirror.
    fn on_publish(&mut self, p: &rumqttc::Publish) {
        if let Some(tx) = self.cmd_routes.get(p.topic.as_str()) {
            // A retained command is stale; the mirror never retains one.
            if !p.retain && tx.try_send(p.payload.to_vec()).is_err() {
                tracing::warn!(topic = %p.topic,
                    "serial command queue full, a command was dropped");
            }
        } else {
            let out = self
                .mirror
                .handle(&p.topic, &p.payload, p.retain, unix_now());
            self.send(out);
            self.flush_notes();
        }
    }

    /// The report; the bridges stopped and their devices marked offline; the outgoing
    /// queue closed, so the sender ends once it has published what is queued.
    fn finish(&mut self, interrupted: bool) -> MirrorReport {
        let report = self.mirror.report(
            unix_now(),
            BrokerInfo {
                url: self.url.clone(),
                embedded: false,
            },
            interrupted,
        );
        self.flush_notes();
        // The ports close with the bridges: their devices are no longer mirrored online.
        for b in &self.bridges {
            b.abort();
        }
        if !self.bridges.is_empty() {
            for l in &self.links {
                self.send(vec![Publish {
                    topic: l.topics.status.clone(),
                    payload: b"offline".to_vec(),
                    retain: true,
                }]);
            }
        }
        self.pub_tx = None;
        report
    }
}

/// A refused CONNACK in words: "the broker refused the session: bad user name or
/// password" (the client's codes are MQTT 3.1.1's return codes).
fn refusal_words(code: rumqttc::ConnectReturnCode) -> String {
    let why = sim_core::load::error::connack_reason(code as u8);
    format!("the broker refused the session: {why}")
}
