//! Measurement shared by the twin path (`run`, `ingest`) and the load engine (`load`):
//! latency histograms and their percentiles, the histograms' text form that lets shard
//! reports merge exactly, rounding for reports, and per-stream `seq` accounting
//! (received, duplicates, reordering, gaps).
//!
//! It uses only `hdrhistogram` and `base64`: nothing of the simulator, the transport or
//! the load engine, so both products can lean on it.

mod histogram;
mod latency;
mod seq;

pub use histogram::{HistogramError, histogram_from_base64, histogram_to_base64};
pub use latency::{Latency, latency_histogram, round4};
pub use seq::{SeqEvent, SeqTally};
