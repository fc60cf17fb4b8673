//! The MQTT 3.1.1 and 5 packets the lean sessions write and read, built and parsed by
//! hand: a file per packet kind, as rumqttc's `mqttbytes` lays them out.
//!
//! Why not a client library: a load generator must cost less than the broker it
//! measures. A library pays a channel hop, an event per packet and a flush per publish;
//! the load sessions instead batch every message that is due into one write and read
//! their acknowledgements in the same task, and the counting subscriber answers a whole
//! read's PUBLISH packets in one write. The figures (README.md, benches/README.md):
//! 100,000 msg/s at QoS 0 drove Mosquitto to 96 % of its core while twin used 0.24 of
//! Mosquitto's CPU time; at 10,000 msg/s twin used 4.5-4.6 CPU-seconds per 100k
//! messages, its counting subscriber included, where the `mosquitto_pub` processes used
//! 9-10. For held idle sessions (`twin load conn`) a rumqttc session's fixed buffers
//! cost about 30 KiB of RSS each; a lean one costs 1.54 KiB in the README's run.
//!
//! Only what the sessions need is here: CONNECT/CONNACK, PUBLISH and its
//! acknowledgements, SUBSCRIBE/SUBACK, PINGREQ/PINGRESP, DISCONNECT; MQTT 5 packets carry
//! empty property lists. Incoming properties are skipped, but for CONNACK's: every one
//! is read (`connack`), and the sessions honour what the broker announces. Every parser returns an
//! error, never panics, on whatever bytes the broker sends (the `fuzz/` targets check).
//! It uses only [`crate::load::error`].

pub mod ack;
pub mod connack;
pub mod connect;
pub mod header;
pub mod protocol;
pub mod pub_incoming;
pub mod publish;
pub mod sub_incoming;
pub mod subscribe;
