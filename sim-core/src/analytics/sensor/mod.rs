//! Per-sensor analytics: a sliding window over one reading of one device (say, the
//! `temperature` of `thermo-7`), and the detectors that judge every new reading against
//! it: spike, stuck, drift, rate of change and threshold.
//!
//! Pure and synchronous: no I/O, no clock of its own (time is the reading's sim time), no
//! allocation after [`SensorState::new`] on the default (Sigma) path. The window keeps at
//! most `max_samples` readings, so memory per sensor is constant.
//!
//! Cost per reading is O(1) amortised: count, mean, standard deviation and the trend come
//! from running sums, minimum and maximum from monotonic deques. Two things are O(window)
//! and are therefore only done on demand: the 95th percentile ([`SensorState::stats`]) and
//! the median/MAD ([`SensorState::robust_z`]). The one exception is a sensor configured
//! with [`SpikeMethod::RobustZ`], whose spike check needs the median and MAD of the window
//! for every reading: O(window) per reading, on a buffer kept with the state.
//!
//! Files: `config` (what to judge and how), `window` (the sliding window and its
//! summaries), `detectors` (EWMA, CUSUM, debounce, median/MAD), `state` ([`SensorState`]
//! and its [`Flags`]).

mod config;
mod detectors;
mod state;
#[cfg(test)]
mod tests;
mod window;

pub use config::{SensorConfig, SpikeMethod, SpikeRule, ThresholdRule};
pub use state::{Flags, SensorState};
pub use window::{Trend, TrendLabel, WindowStats};
