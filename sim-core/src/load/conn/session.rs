//! One held session of `twin load conn`, and the state all of a run's sessions share.

use crate::load::codec::connack::Connack;
use crate::load::conn::idle;
use crate::load::conn::spec::ConnCounters;
use crate::load::dial::{self, Tls};
use crate::load::error::LinkError;
use crate::load::observed::Observed;
use crate::load::report::BrokerLimits;
use crate::measure::latency_histogram;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// State the sessions of one run share.
pub(crate) struct Shared {
    /// Totals the caller samples.
    pub counters: Arc<ConnCounters>,
    /// Connect latency, µs.
    pub hist: Mutex<Histogram<u64>>,
    /// Refusals by return code.
    pub refused_codes: Mutex<BTreeMap<u8, u64>>,
    /// Attempts over (connected or failed), to know when the ramp has settled.
    pub settled: AtomicU64,
    /// When the run started, for `last_connack_us`.
    pub start: Instant,
    /// µs from `start` to the latest CONNACK 0.
    pub last_connack_us: AtomicU64,
    /// TLS for `mqtts://`.
    pub tls: Option<Arc<Tls>>,
    /// What the first accepting CONNACK announced.
    pub limits: Mutex<Option<BrokerLimits>>,
    /// The keep-alive the sessions keep (the broker's Server Keep Alive when sent).
    pub keep_alive_s: AtomicU64,
    /// Sessions that dropped during the hold.
    pub dropped: AtomicU64,
    /// The broker's DISCONNECT reasons.
    pub observed: Observed,
    /// Why the first attempt that did not get a CONNACK failed (a refused port, TLS,
    /// a malformed answer), when no session connected before it.
    pub first_failure: Mutex<Option<LinkError>>,
}

impl Shared {
    /// Nothing counted yet.
    pub fn new(counters: Arc<ConnCounters>, tls: Option<Arc<Tls>>) -> Shared {
        Shared {
            counters,
            hist: Mutex::new(latency_histogram()),
            refused_codes: Mutex::new(BTreeMap::new()),
            settled: AtomicU64::new(0),
            start: Instant::now(),
            last_connack_us: AtomicU64::new(0),
            tls,
            limits: Mutex::new(None),
            keep_alive_s: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            observed: Observed::new(0),
            first_failure: Mutex::new(None),
        }
    }

    /// An attempt failed; `refused` with the CONNACK code when the broker said no.
    fn failed(&self, refused: Option<u8>) {
        let c = &self.counters;
        if let Some(code) = refused {
            c.refused.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut m) = self.refused_codes.lock() {
                *m.entry(code).or_default() += 1;
            }
        }
        c.failed.fetch_add(1, Ordering::Relaxed);
        self.settled.fetch_add(1, Ordering::Release);
    }

    /// An attempt failed without a CONNACK: kept when it is the first and nothing
    /// connected yet, so a broker that cannot be used is named at once.
    fn unreached(&self, e: LinkError) {
        if self.counters.connected.load(Ordering::Relaxed) == 0
            && let Ok(mut f) = self.first_failure.lock()
            && f.is_none()
        {
            *f = Some(e);
        }
        self.failed(None);
    }

    /// Why the first attempt that got no CONNACK failed, in words ("connection
    /// refused", "TLS failed: ..."), when one did before any session connected.
    pub fn first_failure_words(&self) -> Option<String> {
        let f = self.first_failure.lock().ok()?;
        f.as_ref().map(crate::transport::reach::describe)
    }

    /// An attempt that began at `t0` got its CONNACK 0 with `connack`: the keep-alive to
    /// keep (`asked`, or the broker's Server Keep Alive).
    fn connected(&self, t0: Instant, connack: Connack, asked: u16) -> u16 {
        let keep_alive = connack.server_keep_alive.unwrap_or(asked);
        self.keep_alive_s
            .store(keep_alive.into(), Ordering::Relaxed);
        if let Ok(mut l) = self.limits.lock()
            && l.is_none()
        {
            *l = Some(BrokerLimits::from(&connack));
        }
        if let Ok(mut h) = self.hist.lock() {
            h.saturating_record((t0.elapsed().as_micros() as u64).max(1));
        }
        self.last_connack_us
            .fetch_max(self.start.elapsed().as_micros() as u64, Ordering::Relaxed);
        let c = &self.counters;
        c.connected.fetch_add(1, Ordering::Relaxed);
        c.up.fetch_add(1, Ordering::AcqRel);
        self.settled.fetch_add(1, Ordering::Release);
        keep_alive
    }
}

/// One session: open, hold until released (or dropped), close. Its future stays small
/// (a test holds it under 1 KiB): it is most of what a held session costs.
pub(crate) async fn session(
    broker: SocketAddr,
    source: Option<IpAddr>,
    packet: Vec<u8>,
    keep_alive_s: u16,
    timeout: Duration,
    shared: Arc<Shared>,
    mut release: watch::Receiver<bool>,
) {
    let t0 = Instant::now();
    let opening = tokio::time::timeout(
        timeout,
        dial::open(broker, source, packet, shared.tls.as_deref(), true),
    );
    // Released while connecting (a signal ended the run): the attempt is abandoned.
    let opened = tokio::select! {
        r = opening => r,
        _ = release.changed() => return shared.failed(None),
    };
    let (mut stream, connack) = match opened {
        Ok(Ok(s)) => s,
        Ok(Err(LinkError::Refused { code })) => return shared.failed(Some(code)),
        Ok(Err(e)) => {
            tracing::debug!("load conn session to {broker} failed: {e}");
            return shared.unreached(e);
        }
        Err(_) => {
            let e = std::io::Error::new(std::io::ErrorKind::TimedOut, "no CONNACK in time");
            return shared.unreached(LinkError::Io(e));
        }
    };
    let keep_alive_s = shared.connected(t0, connack, keep_alive_s);
    let held = idle::hold(&mut stream, keep_alive_s, &mut release).await;
    shared.counters.up.fetch_sub(1, Ordering::AcqRel);
    match held {
        Ok(()) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), dial::close(stream)).await;
        }
        Err(e) => {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            if let LinkError::Disconnected { code } = e {
                shared.observed.reason("DISCONNECT", code);
            }
            tracing::debug!("load conn session to {broker} dropped: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_session_future_is_small() {
        let (_tx, rx) = watch::channel(false);
        let shared = Arc::new(Shared::new(Arc::default(), None));
        let f = session(
            ([127, 0, 0, 1], 1).into(),
            None,
            Vec::new(),
            60,
            Duration::from_secs(1),
            shared,
            rx,
        );
        let size = std::mem::size_of_val(&f);
        assert!(size <= 1024, "session future is {size} bytes");
    }
}
