//! One whole `twin run`: broker, ingest, sessions, dispatcher, sim thread, drain, report.
//!
//! Files: [`options`] (what the caller sets), [`progress`] (where the run stands),
//! [`setup`] (checks before connecting), `state` (what the phases share and hand on),
//! `phases` ([`run`] itself, then watching and draining), `start` (the starting phases),
//! `sessions` (the device and gateway sessions, and the router of their changes),
//! `monitor` (rates and UI snapshots while the sim runs), `flow` (writing off what the
//! flow window will not see again), `controller` (the UI's
//! commands over MQTT) and `assemble` (the report).

mod assemble;
mod controller;
mod flow;
mod monitor;
pub mod options;
mod phases;
pub mod progress;
mod sessions;
pub(crate) mod setup;
mod start;
mod state;

pub use crate::error::RunError;
pub use options::{Control, Flow, RunOptions};
pub use phases::run;
pub use progress::{Phase, Progress};
pub(crate) use setup::{check_file_limit, qos_of};
