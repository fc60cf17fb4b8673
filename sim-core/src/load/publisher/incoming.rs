//! A connected publishing session's incoming side: acknowledgements (PUBACK, PUBREC,
//! PUBCOMP), DISCONNECT.

use crate::load::codec::ack::pubrel;
use crate::load::codec::pub_incoming::{self, PubIncoming};
use crate::load::publisher::histograms::record_all;
use crate::load::publisher::live::Live;
use std::sync::atomic::Ordering;

impl Live<'_> {
    /// Handle what a read gave: acknowledgements, PUBRECs to answer, DISCONNECT.
    pub(super) fn take_in(&mut self, read: std::io::Result<usize>) {
        match read {
            Ok(0) | Err(_) => return self.lost_connection(None),
            Ok(n) => self.rlen += n,
        }
        let mut incoming = std::mem::take(&mut self.incoming);
        let Ok(used) = pub_incoming::parse(&self.rbuf[..self.rlen], &mut incoming) else {
            incoming.clear();
            self.incoming = incoming;
            return self.lost_connection(None);
        };
        self.rbuf.copy_within(used..self.rlen, 0);
        self.rlen -= used;
        if self.rlen == self.rbuf.len() {
            // A packet larger than the buffer: grow for it.
            self.rbuf.resize(self.rbuf.len() * 2, 0);
        }
        for p in incoming.drain(..) {
            self.answer(p);
        }
        self.incoming = incoming;
        record_all(&self.hists.ack, &mut self.acks);
    }

    /// One packet from the broker. An acknowledgement is checked against the QoS it
    /// acknowledges: a PUBACK to a QoS 2 publish completes it, but as a downgrade.
    fn answer(&mut self, p: PubIncoming) {
        let (c, observed) = (&self.counters, &self.s.observed);
        let pending = &mut self.log.pending;
        match p {
            PubIncoming::Done { pkid, qos, reason } => {
                if reason != 0 {
                    observed.reason(if qos == 1 { "PUBACK" } else { "PUBCOMP" }, reason);
                }
                let done = pending
                    .iter()
                    .position(|p| p.pkid == pkid)
                    .and_then(|i| pending.remove(i));
                match done {
                    Some(p) if reason < 0x80 => {
                        if qos < self.s.qos {
                            observed.downgrade(qos, "a PUBACK acknowledged a QoS 2 PUBLISH");
                        }
                        self.acks.push(p.at.elapsed().as_micros() as u64);
                        c.acked.fetch_add(1, Ordering::Relaxed);
                        self.steady.proven();
                    }
                    Some(_) => {
                        c.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {}
                }
            }
            PubIncoming::Received { pkid, reason } => {
                if reason != 0 {
                    observed.reason("PUBREC", reason);
                }
                let i = pending.iter().position(|p| p.pkid == pkid);
                if reason < 0x80 {
                    if let Some(i) = i {
                        pending[i].rec = true;
                    }
                    self.buf.extend_from_slice(&pubrel(pkid));
                } else if let Some(i) = i {
                    pending.remove(i);
                    c.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            PubIncoming::Disconnect { reason } => {
                observed.reason("DISCONNECT", reason);
                self.lost_connection(Some(reason));
            }
            PubIncoming::Other => {}
        }
    }
}
