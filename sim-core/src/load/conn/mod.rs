//! `twin load conn`: open sessions at a ramp rate, hold them, report connect latency,
//! refusals and what each held session costs this process in memory.
//!
//! Sessions are idle MQTT 3.1.1 or 5 connections, a few hundred bytes of
//! state each, so one process can hold tens of thousands; `source_ips` spreads them over
//! several local addresses (each gets its own range of ephemeral ports towards the broker),
//! and `shard` splits one run over several processes whose reports
//! `merge_conn` adds.
//!
//! Uses the codec, the dialer and the reports; nothing of the publishing session.

mod idle;
mod run;
mod session;
mod spec;

pub use run::{connect, connect_counted};
pub use spec::{ConnCounters, ConnSpec};
