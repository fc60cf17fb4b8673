//! `twin load`: broker load testing with exact accounting. A second product beside the
//! simulator: it shares the crate's transport and measurement, nothing of the twin.
//!
//! What it may use: [`crate::measure`] (latency histograms, `seq` tallies, rounding),
//! [`crate::transport`] (the broker endpoint, the embedded broker, backoff),
//! [`crate::report`]'s shared report parts (`BrokerInfo`, `MessageCounts`),
//! [`crate::wire`] (`unix_us`, the topic filter), and of `run` only [`RunError`] for the
//! drivers' errors and the open-file check. It uses nothing of `sim`, `model`, `fault`,
//! `analytics` or `ingest`, and they use nothing of it.
//!
//! [`RunError`]: crate::run::RunError
//!
//! Laid out by role:
//! - [`codec`]: every MQTT packet the lean sessions write or read, built by hand (its
//!   docs say why, with figures); [`dial`]: TCP/TLS, CONNECT/CONNACK.
//! - [`payload`]: what each load message carries (device, `seq`, send times).
//! - `publisher`: the publishing session; `subscriber`: the counting subscriber, used by
//!   `load pub` and `load sub` alike.
//! - The commands' drivers: `publish` (`twin load pub`), `conn` (`twin load conn`),
//!   `sub` (`twin load sub`); their JSON in `report`.
//! - Run plumbing: `shard`, `pacer`, `sampler` (interval lines), `process` (CPU, RSS),
//!   `buffer` (buffer policy, drops), [`error`]; `observed` (what the broker's packets
//!   said: reason codes, downgrades, a kick that ended the run) and `steady` (when a
//!   session's backoff starts over, when repeated kicks end the run).

mod buffer;
pub mod codec;
mod conn;
pub mod dial;
pub mod error;
pub mod gate;
mod observed;
mod pacer;
#[doc(hidden)]
pub mod parsers;
pub mod payload;
mod process;
mod publish;
mod publisher;
mod report;
mod sampler;
mod shard;
mod steady;
mod sub;
mod subscriber;

pub use buffer::{BufferPolicy, Dropped};
pub use codec::protocol::Protocol;
pub use conn::{ConnCounters, ConnSpec, connect, connect_counted};
pub use error::{LinkError, LoadError};
pub use payload::{HEADER, decode, encode, encode_into, encode_json, encode_json_into};
pub use process::{process_cpu_seconds, process_rss_kib};
pub use publish::{
    DEFAULT_RECONNECT_RATE, LoadSpec, PERSISTENT_EXPIRY_S, filter_of, publish, publish_counted,
};
pub use report::{
    BrokerLimits, ConnReport, ConnectCounts, LoadReport, ReasonCount, SubCounts, SubReport, merge,
    merge_conn,
};
pub use sampler::{Interval, LoadCounters};
pub use shard::{Shard, run_tag};
pub use sub::{SubSpec, subscribe};
