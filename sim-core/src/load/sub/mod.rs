//! `twin load sub`: N subscribers on a topic filter. Each counts what it receives; for
//! payloads that carry `twin load pub`'s header (publisher, `seq`, send time) it also
//! counts duplicates, reordering and the gaps in each publisher's `seq` (messages lost
//! between the first and the last one it saw), and measures latency from the send time.
//! Other payloads (a real fleet's telemetry, another tool's load) count as untimed.
//!
//! The sessions are the counting subscriber `twin load pub` uses (`subscriber`), so
//! both commands read, acknowledge and reconnect the same way.

mod run;
mod spec;
mod tally;

pub use run::subscribe;
pub use spec::SubSpec;
