//! Ingest: a subscriber on the fleet's telemetry and status topics that counts, per device,
//! what came back over MQTT (received, duplicates, reordering by `seq`), measures
//! end-to-end latency, and keeps per-sensor min/mean/max.
//!
//! Files: `session` (the socket: connect, subscribe, hand messages on), `count` (what
//! a message says, counted), `shared` (what the tasks share with the run), `state`
//! (what has been counted), `tally` (one device's counts), `topics` (templates and
//! filters).

mod count;
mod session;
mod shared;
mod state;
mod tally;
mod topics;

pub use count::{Arrival, count_batch, guess_model};
pub use session::run;
pub use shared::{Ingest, IngestCounters};
pub use state::{IngestState, Watched};
pub use tally::{DeviceTally, Stat};
pub use topics::{Topics, filter_of, match_template};
