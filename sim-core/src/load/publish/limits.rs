//! What a `load pub` run does with the broker's announcements, checked once the counting
//! subscribers are in and before any publisher starts: Maximum QoS (and a SUBACK that
//! granted less), Retain Available and Maximum Packet Size refuse the run with the
//! broker's limit named, or, for QoS and with `--downgrade-qos` only, lower it and say
//! so in the report; Receive Maximum caps the in-flight window.

use crate::load::codec::connack::Connack;
use crate::load::codec::publish::publish_packet;
use crate::load::payload::{encode_into, encode_json_into};
use crate::load::publish::context::PubRun;
use crate::load::publish::topics::topic_of;
use crate::load::report::BrokerLimits;

impl PubRun<'_> {
    /// Honour what the broker announced (`c`, a counting subscriber's CONNACK) and the
    /// lowest QoS its SUBACKs granted; `Err` says which limit the run cannot keep.
    pub fn honour(&mut self, c: &Connack, granted: u8) -> Result<(), String> {
        let spec = self.spec;
        self.limits = BrokerLimits::from(c);
        self.decide_qos(c.maximum_qos, granted)?;
        if spec.retain && c.retain_available == Some(false) {
            return Err(
                "the broker does not support retained messages (CONNACK Retain \
                        Available 0): run without --retain"
                    .into(),
            );
        }
        if let Some(max) = c.maximum_packet_size {
            let largest = self.largest_publish();
            if largest > max as usize {
                return Err(format!(
                    "the broker's Maximum Packet Size is {max} bytes (CONNACK) and this run's \
                     largest PUBLISH is {largest} bytes: use a smaller --size (or shorter \
                     topics)"
                ));
            }
        }
        self.inflight = spec
            .inflight
            .max(1)
            .min(c.receive_maximum.map_or(usize::MAX, usize::from));
        Ok(())
    }

    /// The QoS to publish at: the asked one, or with `--downgrade-qos` the broker's
    /// limit (`maximum` from CONNACK, or what a SUBACK `granted`).
    fn decide_qos(&mut self, maximum: Option<u8>, granted: u8) -> Result<(), String> {
        let asked = self.spec.qos;
        let limit = maximum.unwrap_or(2).min(granted);
        if asked <= limit {
            return Ok(());
        }
        let why = match maximum {
            Some(m) if m < asked => format!("CONNACK Maximum QoS {m}"),
            _ => format!("its SUBACK granted QoS {granted} to a QoS {asked} subscription"),
        };
        if !self.spec.downgrade_qos {
            return Err(format!(
                "the broker supports at most QoS {limit} ({why}) and this run publishes at \
                 QoS {asked}: run at --qos {limit}, or add --downgrade-qos to publish at QoS \
                 {limit} with the downgrade recorded in the report"
            ));
        }
        self.qos = limit;
        self.downgrade = Some(format!(
            "published at QoS {limit}, not {asked}: the broker's limit ({why}), --downgrade-qos"
        ));
        Ok(())
    }

    /// The longest PUBLISH the run can write: the longest topic of the shard (its first
    /// and last device) with the largest payload (the JSON body with the widest numbers).
    fn largest_publish(&self) -> usize {
        let (spec, dps) = (self.spec, self.dps);
        let shard = spec.shard.index;
        let mut largest = 0;
        for s in [self.sessions.start, self.sessions.end.saturating_sub(1)] {
            let client_id = format!("twin-load-{}-{s}", self.tag);
            for d in [s * dps, s * dps + dps - 1] {
                let topic = topic_of(&spec.topic, d, &client_id, shard);
                let mut payload = Vec::new();
                match &spec.payload {
                    Some(t) => {
                        let body = topic_of(t, d, &client_id, shard);
                        encode_json_into(
                            &mut payload,
                            u32::MAX,
                            u64::MAX,
                            u64::MAX,
                            u64::MAX,
                            &body,
                        );
                    }
                    None => encode_into(
                        &mut payload,
                        u32::MAX,
                        u64::MAX,
                        u64::MAX,
                        u64::MAX,
                        spec.size,
                    ),
                }
                let mut p = Vec::new();
                let v5 = spec.protocol.is_v5();
                if publish_packet(
                    &mut p,
                    topic.as_bytes(),
                    self.qos,
                    spec.retain,
                    1,
                    v5,
                    &payload,
                )
                .is_ok()
                {
                    largest = largest.max(p.len());
                }
            }
        }
        largest
    }
}
