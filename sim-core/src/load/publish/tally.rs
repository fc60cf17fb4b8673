//! What the counting subscribers of a `twin load pub` run count, by device.

use crate::measure::SeqTally;
use hdrhistogram::Histogram;

/// The counting subscribers' state, shared by all of them.
pub(crate) struct SubState {
    /// Per device of this shard, by index from the shard's first device.
    pub tallies: Vec<SeqTally>,
    /// Latency from the actual send, µs.
    pub actual: Histogram<u64>,
    /// Latency from the intended send (coordinated omission corrected), µs.
    pub intended: Histogram<u64>,
    /// `actual` since the sampler last took it.
    pub interval: Histogram<u64>,
    /// Payloads without the load header.
    pub malformed: u64,
    /// Messages of devices outside this shard.
    pub foreign: u64,
}
