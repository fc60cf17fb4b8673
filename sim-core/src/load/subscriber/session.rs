//! One counting subscriber session: connect, subscribe, read, answer, reconnect.

use crate::load::codec::ack::{PINGREQ, puback, pubcomp, pubrec};
use crate::load::codec::sub_incoming::{self, SubIncoming};
use crate::load::dial::{self, Dial};
use crate::load::error::LinkError;
use crate::load::subscriber::gate::SubGate;
use crate::transport::backoff::Backoff;
use std::ops::Range;
use std::sync::Arc;
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
    /// Keep-alive: a PINGREQ when nothing was written for half of it.
    pub keep_alive: Duration,
    /// Give up a connection attempt after this long.
    pub connect_timeout: Duration,
    /// Told when this session's subscription starts and ends.
    pub gate: Option<Arc<SubGate>>,
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
    /// Each payload, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        self.ranges.iter().map(|r| &self.buf[r.clone()])
    }
}

/// Why a subscriber gave up.
#[derive(Debug)]
pub(crate) enum SubFailure {
    /// The broker refused the connection or the subscription, or TLS failed.
    Refused(String),
}

impl SubSession {
    /// Connect, subscribe, and hand every message to `handle` (a batch per read) until
    /// `release` turns true or its sender is dropped. `ready` gets `Ok` at the first
    /// SUBACK, or why the broker will not have this subscriber.
    pub async fn run<F>(
        self,
        ready: oneshot::Sender<Result<(), SubFailure>>,
        mut release: watch::Receiver<bool>,
        mut handle: F,
    ) -> SubOutcome
    where
        F: FnMut(Batch<'_>),
    {
        let mut ready = Some(ready);
        let mut outcome = SubOutcome::default();
        let mut connected_once = false;
        let mut backoff = Backoff::default();
        let mut rbuf = vec![0u8; 64 * 1024];
        let mut wbuf: Vec<u8> = Vec::with_capacity(4096);
        let mut incoming = Vec::new();
        let mut ranges = Vec::new();
        // Subscribed on the current connection (the gate counts it).
        let mut subscribed = false;
        // Released: set, or nobody left to set it.
        let released = |r: &watch::Receiver<bool>| *r.borrow() || r.has_changed().is_err();
        'session: loop {
            if subscribed {
                subscribed = false;
                if let Some(g) = &self.gate {
                    g.lost();
                }
            }
            if released(&release) {
                return outcome;
            }
            let opened = tokio::time::timeout(self.connect_timeout, self.dial.open()).await;
            let mut stream = match opened {
                Ok(Ok(s)) => s,
                Ok(Err(e @ (LinkError::Refused { .. } | LinkError::Tls(_)))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(Err(SubFailure::Refused(e.to_string())));
                        return outcome;
                    }
                    // Refused after having been accepted: the broker may come back to
                    // its senses (a restart with its password file); keep trying.
                    Self::pause(&mut backoff, &mut release).await;
                    continue;
                }
                _ => {
                    Self::pause(&mut backoff, &mut release).await;
                    continue;
                }
            };
            if connected_once {
                outcome.reconnects += 1;
            }
            connected_once = true;
            backoff.reset();
            if stream.write_all(&self.subscribe).await.is_err() {
                continue;
            }
            let mut last_write = Instant::now();
            let mut rlen = 0usize;
            loop {
                let ping_at = last_write + self.keep_alive / 2;
                tokio::select! {
                    r = stream.read(&mut rbuf[rlen..]) => {
                        match r {
                            Ok(0) | Err(_) => continue 'session,
                            Ok(n) => rlen += n,
                        }
                        let Ok(used) = sub_incoming::parse(&rbuf[..rlen], self.v5, &mut incoming) else {
                            continue 'session;
                        };
                        for p in incoming.drain(..) {
                            match p {
                                SubIncoming::Publish { qos, pkid, payload } => {
                                    ranges.push(payload);
                                    match qos {
                                        1 => wbuf.extend_from_slice(&puback(pkid)),
                                        2 => wbuf.extend_from_slice(&pubrec(pkid)),
                                        _ => {}
                                    }
                                }
                                SubIncoming::Release { pkid } => {
                                    wbuf.extend_from_slice(&pubcomp(pkid));
                                }
                                SubIncoming::SubAck { ok: true } if !subscribed => {
                                    subscribed = true;
                                    if let Some(g) = &self.gate {
                                        g.subscribed();
                                    }
                                    if let Some(r) = ready.take() {
                                        let _ = r.send(Ok(()));
                                    }
                                }
                                SubIncoming::SubAck { ok: false } => {
                                    if let Some(r) = ready.take() {
                                        let _ = r.send(Err(SubFailure::Refused(
                                            "the broker refused the subscription".into(),
                                        )));
                                        return outcome;
                                    }
                                }
                                SubIncoming::SubAck { ok: true } => {}
                                SubIncoming::Disconnect => continue 'session,
                                SubIncoming::Other => {}
                            }
                        }
                        if !ranges.is_empty() {
                            handle(Batch { buf: &rbuf[..rlen], ranges: &ranges });
                            ranges.clear();
                        }
                        rbuf.copy_within(used..rlen, 0);
                        rlen -= used;
                        if rlen == rbuf.len() {
                            // A packet larger than the buffer: grow for it.
                            rbuf.resize(rbuf.len() * 2, 0);
                        }
                    }
                    _ = tokio::time::sleep_until(ping_at), if !self.keep_alive.is_zero() => {
                        wbuf.extend_from_slice(&PINGREQ);
                    }
                    r = release.changed() => {
                        if r.is_err() || *release.borrow() {
                            let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(stream)).await;
                            return outcome;
                        }
                    }
                }
                if !wbuf.is_empty() {
                    let wrote = stream.write_all(&wbuf).await;
                    wbuf.clear();
                    if wrote.is_err() {
                        continue 'session;
                    }
                    last_write = Instant::now();
                }
            }
        }
    }

    /// Wait before the next attempt, cut short by release.
    async fn pause(backoff: &mut Backoff, release: &mut watch::Receiver<bool>) {
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_wait()) => {}
            _ = release.changed() => {}
        }
    }
}
