//! How one sensor is analysed: the window, the spike rule, the threshold alarm and the
//! detectors' constants ([`SensorConfig`]).

/// How outliers are judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpikeMethod {
    /// Distance from the window mean, in window standard deviations. O(1) per reading.
    Sigma,
    /// Robust z-score `0.6745 · |v − median| / MAD` over the window (Iglewicz and
    /// Hoaglin). Not fooled by earlier outliers, but O(window) per reading.
    RobustZ,
}

/// When a reading is a spike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeRule {
    /// How the distance from the window's centre is measured.
    pub method: SpikeMethod,
    /// Distance beyond which a reading is a spike: sigmas for [`SpikeMethod::Sigma`]
    /// (default 4.0), robust z for [`SpikeMethod::RobustZ`] (3.5 is the usual choice).
    pub threshold: f64,
    /// Absolute deviation from the window's centre a spike must also exceed, in the
    /// reading's units (default 1.0). Keeps a very quiet or quantised sensor, whose window
    /// has a tiny spread, from calling every resolution step a spike.
    pub min_delta: f64,
}

impl SpikeRule {
    /// The Sigma rule with the given threshold (sigmas) and minimum deviation.
    pub fn sigma(threshold: f64, min_delta: f64) -> Self {
        SpikeRule {
            method: SpikeMethod::Sigma,
            threshold,
            min_delta,
        }
    }

    /// The robust-z rule with the given threshold (3.5 is usual) and minimum deviation.
    pub fn robust_z(threshold: f64, min_delta: f64) -> Self {
        SpikeRule {
            method: SpikeMethod::RobustZ,
            threshold,
            min_delta,
        }
    }
}

impl Default for SpikeRule {
    /// 4 sigma, and at least 1.0 unit away from the mean.
    fn default() -> Self {
        SpikeRule::sigma(4.0, 1.0)
    }
}

/// A fixed limit with N-of-M debounce and hysteresis.
///
/// The alarm is raised when at least `n` of the last `m` readings are beyond a limit
/// (above `above` or below `below`). Once raised, it clears only when `n` of the last `m`
/// readings are back inside the limits by at least `hysteresis` (at or under
/// `above − hysteresis` and at or over `below + hysteresis`), so a reading hovering at the
/// limit does not make it flap. `m` is capped at 64 and `n` is clamped to `1..=m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThresholdRule {
    /// Upper limit, if any.
    pub above: Option<f64>,
    /// Lower limit, if any.
    pub below: Option<f64>,
    /// How far back inside a limit a reading must be to count toward clearing, in units.
    pub hysteresis: f64,
    /// Readings beyond (or back inside) the limit needed among the last `m`.
    pub n: usize,
    /// Length of the debounce history.
    pub m: usize,
}

impl Default for ThresholdRule {
    /// No limit; once limits are set, a single reading raises and clears.
    fn default() -> Self {
        ThresholdRule {
            above: None,
            below: None,
            hysteresis: 0.0,
            n: 1,
            m: 1,
        }
    }
}

/// Window and detector settings for one reading of one sensor.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorConfig {
    /// Seconds of sim time the sliding window covers (default 600). A sample at exactly
    /// `t − window` is still inside.
    pub window: f64,
    /// Most samples kept in the window (default 128): constant memory per sensor.
    pub max_samples: usize,
    /// No spike, stuck or drift verdict before this many samples (default 8). It is also
    /// the number of residuals the drift baseline is learnt from, and the number of quiet
    /// readings that end a drift episode.
    pub min_samples: usize,
    /// When a reading is a spike.
    pub spike: SpikeRule,
    /// This many consecutive spikes on the same side of the window's centre are a new
    /// level, not spikes (default 8; 0 never): the window restarts from them. Without this
    /// a real step (a heater switched on, a load connected) would be flagged as a spike
    /// until the old level had aged out of the window.
    pub level_shift_after: usize,
    /// The same value (|Δ| ≤ `stuck_epsilon`) this many times in a row is stuck (default 8).
    pub stuck_repeats: usize,
    /// Largest change still counted as "the same value" (default 1e-9).
    pub stuck_epsilon: f64,
    /// The part's range, when it has one (default none): a run of values at either end
    /// is saturation (a stopped pump's flow meter reads 0), not a stuck sensor.
    pub range: Option<(f64, f64)>,
    /// Half-life of the exponentially weighted mean and variance, sim seconds (default 300).
    pub ewma_half_life: f64,
    /// |slope| above this is increasing or decreasing, units per hour (default 0.5).
    pub trend_threshold_per_hour: f64,
    /// Rate-of-change limit |dv/dt|, units per second (default none).
    pub max_rate_per_s: Option<f64>,
    /// Drift CUSUM slack k, in units (default 0.3): residual shifts smaller than this are
    /// ignored.
    pub cusum_k: f64,
    /// Drift CUSUM decision interval h, in units (default 4.0).
    pub cusum_h: f64,
    /// Fixed limits, if any (default none).
    pub threshold: Option<ThresholdRule>,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            window: 600.0,
            max_samples: 128,
            min_samples: 8,
            spike: SpikeRule::default(),
            level_shift_after: 8,
            stuck_repeats: 8,
            stuck_epsilon: 1e-9,
            range: None,
            ewma_half_life: 300.0,
            trend_threshold_per_hour: 0.5,
            max_rate_per_s: None,
            cusum_k: 0.3,
            cusum_h: 4.0,
            threshold: None,
        }
    }
}
