//! One counting subscriber session: connect, subscribe, read, answer, reconnect.

use crate::load::codec::ack::{PINGREQ, puback, pubcomp, pubrec};
use crate::load::codec::connack::Connack;
use crate::load::codec::sub_incoming::{self, SubIncoming};
use crate::load::dial::{self, Dial, Stream};
use crate::load::error::{LinkError, reason_name};
use crate::load::observed::Observed;
use crate::load::sampler::LoadCounters;
use crate::load::steady::Steady;
use crate::load::subscriber::gate::SubGate;
use std::ops::{ControlFlow, Range};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// One subscribing session.
pub(crate) struct SubSession {
    /// Where it connects, again after a lost connection.
    pub dial: Dial,
    /// MQTT 5 framing.
    pub v5: bool,
    /// SUBSCRIBE, sent after every CONNACK.
    pub subscribe: Vec<u8>,
    /// Keep-alive asked for in CONNECT: a PINGREQ when nothing was written for half of
    /// it (the broker's Server Keep Alive replaces it).
    pub keep_alive: Duration,
    /// The QoS the subscription asks for: a SUBACK granting less is a downgrade.
    pub qos: u8,
    /// The filter is a shared subscription (`$share/...`): why, for the error when the
    /// broker announces Shared Subscription Available 0.
    pub shared: Option<String>,
    /// The filter holds a wildcard (`+`, `#`): refused when the broker announces
    /// Wildcard Subscription Available 0.
    pub wildcard: bool,
    /// What the run's sessions saw of the broker.
    pub observed: Arc<Observed>,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Until then, a first connection that fails for the network (a refused port, a
    /// reset) is tried again (a broker still starting); after, it ends the run, named.
    pub wait_until: Instant,
    /// Told when this session's subscription starts and ends (`load pub` holds its
    /// publishers while a subscriber is away).
    pub gate: Option<Arc<SubGate>>,
    /// `load sub`'s running totals: `connections` while subscribed, `errors` for every
    /// failed attempt or lost connection (the interval lines show them).
    pub counters: Option<Arc<LoadCounters>>,
}

/// What a subscribing session saw of its connection.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SubOutcome {
    /// Connections made after the first.
    pub reconnects: u64,
}

/// The payloads of one read's PUBLISH packets.
pub(crate) struct Batch<'a> {
    buf: &'a [u8],
    ranges: &'a [Range<usize>],
}

impl<'a> Batch<'a> {
    /// The payloads at `ranges` of `buf`, as a read would hand them over.
    #[cfg(test)]
    pub fn of(buf: &'a [u8], ranges: &'a [Range<usize>]) -> Batch<'a> {
        Batch { buf, ranges }
    }

    /// Each payload, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.buf[r.clone()])
    }
}

/// A subscriber's first subscription: the CONNACK of its connection, and the QoS the
/// SUBACK granted.
#[derive(Debug, Clone)]
pub(crate) struct Subscribed {
    /// What the broker announced.
    pub connack: Connack,
    /// The QoS granted.
    pub granted: u8,
}

/// Why a subscriber gave up before its first subscription.
#[derive(Debug)]
pub(crate) enum SubFailure {
    /// The broker refused the connection, or TLS failed.
    Connect(LinkError),
    /// The broker refused the subscription.
    Subscription,
    /// The broker announced it does not support what the subscription needs.
    Unsupported(String),
    /// The broker sent DISCONNECT with this reason code again and again, each time
    /// before the session stayed up.
    Kicked(u8),
}

impl std::fmt::Display for SubFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubFailure::Connect(e) => write!(f, "{}", crate::transport::reach::describe(e)),
            SubFailure::Subscription => write!(f, "the broker refused the subscription"),
            SubFailure::Unsupported(why) => write!(f, "{why}"),
            SubFailure::Kicked(code) => write!(
                f,
                "the broker sent DISCONNECT with reason code {code:#04x} ({}) to the \
                 subscriber each time it connected",
                reason_name(*code)
            ),
        }
    }
}

impl SubFailure {
    /// The run's error for it: a connection that failed for the network is an
    /// unreachable broker, the rest the broker's refusal.
    pub fn error(&self, url: &str) -> crate::run::RunError {
        match self {
            SubFailure::Connect(e) => crate::transport::reach::run_error(url, e),
            other => crate::run::RunError::Refused {
                url: url.to_string(),
                why: other.to_string(),
            },
        }
    }
}

/// How one connection ended.
enum Ended {
    /// Closed, reset, a broken packet, a DISCONNECT: connect again.
    Lost,
    /// Released, the handler had enough, or the first subscription was refused.
    Stop,
}

/// A session's state across its connections.
struct Link {
    /// Told once: at the first SUBACK, or why there will be none.
    ready: Option<oneshot::Sender<Result<Subscribed, SubFailure>>>,
    /// What the caller gets back.
    outcome: SubOutcome,
    /// A later connection is a reconnect.
    connected_once: bool,
    /// Waits between attempts, and the kicks in a row.
    steady: Steady,
    /// The current connection's CONNACK, and its keep-alive.
    connack: Connack,
    keep_alive: Duration,
    /// The reason code of the DISCONNECT that ended the connection, if one did.
    kick: Option<u8>,
    /// What the socket gave; `rlen` bytes of it not parsed yet.
    rbuf: Vec<u8>,
    rlen: usize,
    /// Acknowledgements and pings, written once per read.
    wbuf: Vec<u8>,
    /// Packets of the current read (kept for its allocation).
    incoming: Vec<SubIncoming>,
    /// Where the current read's payloads lie in `rbuf`.
    ranges: Vec<Range<usize>>,
    /// Subscribed on the current connection (the gate and the counters count it).
    subscribed: bool,
}

impl SubSession {
    /// Connect, subscribe, and hand every message to `handle` (a batch per read) until
    /// `release` turns true or its sender is dropped, or `handle` breaks. `ready` gets
    /// `Ok` at the first SUBACK, or why the broker will not have this subscriber.
    pub async fn run<F>(
        self,
        ready: oneshot::Sender<Result<Subscribed, SubFailure>>,
        mut release: watch::Receiver<bool>,
        mut handle: F,
    ) -> SubOutcome
    where
        F: FnMut(Batch<'_>) -> ControlFlow<()>,
    {
        let mut link = Link {
            ready: Some(ready),
            outcome: SubOutcome::default(),
            connected_once: false,
            steady: Steady::default(),
            connack: Connack::default(),
            keep_alive: self.keep_alive,
            kick: None,
            rbuf: vec![0u8; 64 * 1024],
            rlen: 0,
            wbuf: Vec::with_capacity(4096),
            incoming: Vec::new(),
            ranges: Vec::new(),
            subscribed: false,
        };
        // Released: set, or nobody left to set it.
        let released = |r: &watch::Receiver<bool>| *r.borrow() || r.has_changed().is_err();
        loop {
            self.unsubscribed(&mut link);
            if released(&release) {
                return link.outcome;
            }
            let stream = match self.open(&mut link, &mut release).await {
                Ok(s) => s,
                Err(ControlFlow::Continue(())) => continue,
                Err(ControlFlow::Break(())) => return link.outcome,
            };
            match self
                .serve(&mut link, stream, &mut release, &mut handle)
                .await
            {
                Ended::Lost => self.count_error(),
                Ended::Stop => return link.outcome,
            }
            if let Some((code, times)) = link.steady.lost(link.kick.take()) {
                self.observed.kicked(code, times);
                if let Some(r) = link.ready.take() {
                    let _ = r.send(Err(SubFailure::Kicked(code)));
                }
                self.unsubscribed(&mut link);
                return link.outcome;
            }
        }
    }

    /// Connect; on failure, wait (`Continue`) or, refused before the first
    /// subscription, give up (`Break`).
    async fn open(
        &self,
        link: &mut Link,
        release: &mut watch::Receiver<bool>,
    ) -> Result<Stream, ControlFlow<()>> {
        // Released (the run ends, or a signal stopped it) while connecting: give up now.
        let opened = tokio::select! {
            r = tokio::time::timeout(self.connect_timeout, self.dial.open()) => r,
            _ = release.changed() => return Err(ControlFlow::Break(())),
        };
        match opened {
            Ok(Ok((s, connack))) => {
                if let Some(why) = self.unsupported(&connack) {
                    let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(s)).await;
                    if let Some(r) = link.ready.take() {
                        let _ = r.send(Err(SubFailure::Unsupported(why)));
                    }
                    return Err(ControlFlow::Break(()));
                }
                if link.connected_once {
                    link.outcome.reconnects += 1;
                }
                link.connected_once = true;
                link.steady.connected();
                link.keep_alive = connack
                    .server_keep_alive
                    .map_or(self.keep_alive, |k| Duration::from_secs(k.into()));
                link.connack = connack;
                return Ok(s);
            }
            Ok(Err(e)) => {
                let network = matches!(e, LinkError::Io(_) | LinkError::Closed);
                tracing::debug!(error = %e, "load subscriber could not connect");
                if link.ready.is_some() && (!network || Instant::now() >= self.wait_until) {
                    if let Some(r) = link.ready.take() {
                        let _ = r.send(Err(SubFailure::Connect(e)));
                    }
                    return Err(ControlFlow::Break(()));
                }
                // Refused after having been accepted: the broker may come back to its
                // senses (a restart with its password file); keep trying.
            }
            Err(_) => {}
        }
        self.count_error();
        tokio::select! {
            _ = tokio::time::sleep(link.steady.next_wait()) => {}
            _ = release.changed() => {}
        }
        Err(ControlFlow::Continue(()))
    }

    /// Subscribe on a new connection, then read, answer and hand on until it ends.
    async fn serve<F>(
        &self,
        link: &mut Link,
        mut stream: Stream,
        release: &mut watch::Receiver<bool>,
        handle: &mut F,
    ) -> Ended
    where
        F: FnMut(Batch<'_>) -> ControlFlow<()>,
    {
        if stream.write_all(&self.subscribe).await.is_err() {
            return Ended::Lost;
        }
        let mut last_write = Instant::now();
        link.rlen = 0;
        loop {
            let ping_at = last_write + link.keep_alive / 2;
            let mut ended = None;
            tokio::select! {
                r = stream.read(&mut link.rbuf[link.rlen..]) => match r {
                    Ok(0) | Err(_) => return Ended::Lost,
                    Ok(n) => ended = self.take_in(link, n, handle),
                },
                _ = tokio::time::sleep_until(ping_at), if !link.keep_alive.is_zero() => {
                    link.wbuf.extend_from_slice(&PINGREQ);
                }
                r = release.changed() => {
                    if r.is_err() || *release.borrow() {
                        ended = Some(Ended::Stop);
                    }
                }
            }
            if !link.wbuf.is_empty() {
                let wrote = stream.write_all(&link.wbuf).await;
                link.wbuf.clear();
                if wrote.is_err() && ended.is_none() {
                    return Ended::Lost;
                }
                last_write = Instant::now();
            }
            match ended {
                Some(Ended::Stop) => {
                    let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(stream)).await;
                    return Ended::Stop;
                }
                Some(Ended::Lost) => return Ended::Lost,
                None => {}
            }
        }
    }

    /// Parse what a read of `n` bytes completed, queue the answers, hand the payloads
    /// on; `Some` when the connection ends here.
    fn take_in<F>(&self, link: &mut Link, n: usize, handle: &mut F) -> Option<Ended>
    where
        F: FnMut(Batch<'_>) -> ControlFlow<()>,
    {
        link.rlen += n;
        let Ok(used) = sub_incoming::parse(&link.rbuf[..link.rlen], self.v5, &mut link.incoming)
        else {
            link.incoming.clear();
            return Some(Ended::Lost);
        };
        let mut incoming = std::mem::take(&mut link.incoming);
        let mut ended = incoming.drain(..).find_map(|p| self.answer(link, p));
        link.incoming = incoming;
        if ended.is_none() && !link.ranges.is_empty() {
            let batch = Batch {
                buf: &link.rbuf[..link.rlen],
                ranges: &link.ranges,
            };
            if handle(batch).is_break() {
                ended = Some(Ended::Stop);
            }
        }
        link.ranges.clear();
        link.rbuf.copy_within(used..link.rlen, 0);
        link.rlen -= used;
        if link.rlen == link.rbuf.len() {
            // A packet larger than the buffer: grow for it.
            link.rbuf.resize(link.rbuf.len() * 2, 0);
        }
        ended
    }

    /// Answer one packet (or note what it says); `Some` when the connection ends here.
    fn answer(&self, link: &mut Link, p: SubIncoming) -> Option<Ended> {
        match p {
            SubIncoming::Publish { qos, pkid, payload } => {
                link.ranges.push(payload);
                link.steady.proven();
                match qos {
                    1 => link.wbuf.extend_from_slice(&puback(pkid)),
                    2 => link.wbuf.extend_from_slice(&pubrec(pkid)),
                    _ => {}
                }
            }
            SubIncoming::Release { pkid } => link.wbuf.extend_from_slice(&pubcomp(pkid)),
            SubIncoming::SubAck { ok: true, granted } => self.now_subscribed(link, granted),
            SubIncoming::SubAck { ok: false, granted } => {
                self.observed.reason("SUBACK", granted);
                if let Some(r) = link.ready.take() {
                    let _ = r.send(Err(SubFailure::Subscription));
                    return Some(Ended::Stop);
                }
            }
            SubIncoming::Disconnect { reason } => {
                self.observed.reason("DISCONNECT", reason);
                link.kick = Some(reason);
                return Some(Ended::Lost);
            }
            SubIncoming::Other => {}
        }
        None
    }

    /// A SUBACK granting `granted`: count the subscription once per connection (a grant
    /// below the asked QoS as a downgrade), and say so at the first.
    fn now_subscribed(&self, link: &mut Link, granted: u8) {
        if link.subscribed {
            return;
        }
        link.subscribed = true;
        if granted < self.qos {
            self.observed
                .downgrade(granted, "a SUBACK granted less than the subscription asked");
        }
        if let Some(g) = &self.gate {
            g.subscribed();
        }
        if let Some(c) = &self.counters {
            c.connections.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(r) = link.ready.take() {
            let _ = r.send(Ok(Subscribed {
                connack: link.connack.clone(),
                granted,
            }));
        }
    }

    /// The connection that held the subscription is gone.
    fn unsubscribed(&self, link: &mut Link) {
        if !link.subscribed {
            return;
        }
        link.subscribed = false;
        if let Some(g) = &self.gate {
            g.lost();
        }
        if let Some(c) = &self.counters {
            c.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// What the broker's CONNACK says it does not support of this subscription, worded
    /// for the user; `None` when it supports all of it.
    fn unsupported(&self, c: &Connack) -> Option<String> {
        if let Some(why) = &self.shared
            && c.shared_available == Some(false)
        {
            return Some(format!(
                "the broker does not support shared subscriptions (CONNACK Shared \
                 Subscription Available 0): {why}"
            ));
        }
        (self.wildcard && c.wildcard_available == Some(false)).then(|| {
            "the broker does not support wildcard subscriptions (CONNACK Wildcard \
             Subscription Available 0): subscribe to a topic without + or #"
                .to_string()
        })
    }

    fn count_error(&self) {
        if let Some(c) = &self.counters {
            c.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
