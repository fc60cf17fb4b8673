//! [`SensorState`]: one reading of one device, judged reading by reading.

use super::config::*;
use super::detectors::*;
use super::window::*;

/// What the detectors say about one reading.
#[derive(Default, Clone, Copy, Debug, PartialEq)]
pub struct Flags {
    /// This reading is an outlier against the window (and was kept out of it).
    pub spike: bool,
    /// The value has not changed for `stuck_repeats` readings, this one included.
    pub stuck: bool,
    /// The residual against the twin's expectation has walked away from its baseline.
    pub drift: bool,
    /// The change since the previous accepted reading is faster than `max_rate_per_s`.
    pub rate: bool,
    /// The threshold alarm is raised.
    pub threshold: bool,
}

/// Analytics state of one reading of one sensor: the window and every detector's memory.
#[derive(Debug, Clone)]
pub struct SensorState {
    window: Window,
    /// Latest sim time seen; an earlier `t` is treated as this one.
    clock: Option<f64>,
    /// The last reading observed, spikes included: `(t, value)`.
    last: Option<(f64, f64)>,
    /// Readings observed, spikes included.
    seen: usize,
    /// The value and length of the current run of equal values (stuck detection).
    run_value: f64,
    run_len: usize,
    /// The last reading that entered the window (rate of change is measured from it).
    last_accepted: Option<(f64, f64)>,
    ewma: Ewma,
    cusum: Cusum,
    debounce: Debounce,
    /// The current run of consecutive spikes on one side of the window's centre, and that
    /// side (±1): candidates for a level shift.
    spike_run: Vec<(f64, f64)>,
    spike_side: f64,
    /// Scratch space for the median and MAD of the RobustZ spike check; empty (no
    /// allocation) with the Sigma method.
    scratch: Vec<f64>,
}

impl SensorState {
    /// Empty state sized for `cfg`: allocates the window once, here. Pass the same `cfg`
    /// to every [`observe`](Self::observe): `max_samples` is fixed at this point.
    pub fn new(cfg: &SensorConfig) -> SensorState {
        let scratch = match cfg.spike.method {
            SpikeMethod::RobustZ => Vec::with_capacity(cfg.max_samples.max(1)),
            SpikeMethod::Sigma => Vec::new(),
        };
        SensorState {
            window: Window::new(cfg.max_samples),
            clock: None,
            last: None,
            seen: 0,
            run_value: 0.0,
            run_len: 0,
            last_accepted: None,
            ewma: Ewma::default(),
            cusum: Cusum::default(),
            debounce: Debounce::default(),
            spike_run: Vec::with_capacity(cfg.level_shift_after.min(cfg.max_samples)),
            spike_side: 0.0,
            scratch,
        }
    }

    /// One reading at sim time `t` (seconds, non-decreasing in normal use; an occasional
    /// earlier `t` is treated as equal to the latest). `expected` is the twin's noise-free
    /// value for this reading, when the simulator knows it: drift detection uses it, and
    /// without it drift stays false.
    ///
    /// The spike check judges the reading against the window as it was before it; a spike
    /// is kept out of the window, the EWMA, the rate check and the drift CUSUM, so it
    /// neither widens the band nor drags the baseline. Stuck and threshold see every
    /// reading. A non-finite `t` or `value` is ignored (no state changes, no flags).
    pub fn observe(
        &mut self,
        cfg: &SensorConfig,
        t: f64,
        value: f64,
        expected: Option<f64>,
    ) -> Flags {
        if !t.is_finite() || !value.is_finite() {
            return Flags::default();
        }
        let t = self.clock.map_or(t, |c| t.max(c));
        self.clock = Some(t);
        self.last = Some((t, value));
        self.seen += 1;
        let mut flags = Flags::default();

        if self.run_len > 0 && (value - self.run_value).abs() <= cfg.stuck_epsilon {
            self.run_len += 1;
        } else {
            self.run_len = 1;
        }
        self.run_value = value;
        let saturated = cfg.range.is_some_and(|(lo, hi)| {
            value <= lo + cfg.stuck_epsilon || value >= hi - cfg.stuck_epsilon
        });
        flags.stuck =
            self.seen >= cfg.min_samples && self.run_len >= cfg.stuck_repeats.max(1) && !saturated;

        if let Some(rule) = &cfg.threshold {
            flags.threshold = self.debounce.observe(rule, value);
        }

        self.window.evict_before(t - cfg.window);
        if let Some(centre) = self.spike_centre(cfg, value) {
            flags.spike = true;
            let side = if value > centre { 1.0 } else { -1.0 };
            if side != self.spike_side {
                self.spike_run.clear();
                self.spike_side = side;
            }
            if cfg.level_shift_after > 0 && self.spike_run.len() + 1 >= cfg.level_shift_after {
                // A new level: restart the window from the run, and accept this reading.
                self.window.clear();
                for &(ts, vs) in &self.spike_run {
                    self.window.push(ts, vs);
                    self.ewma.observe(cfg.ewma_half_life, ts, vs);
                    self.last_accepted = Some((ts, vs));
                }
                self.spike_run.clear();
                self.spike_side = 0.0;
                flags.spike = false;
            } else if cfg.level_shift_after > 0 {
                self.spike_run.push((t, value));
            }
        } else {
            self.spike_run.clear();
            self.spike_side = 0.0;
        }

        if !flags.spike {
            if let (Some(limit), Some((t_prev, v_prev))) = (cfg.max_rate_per_s, self.last_accepted)
            {
                let dt = t - t_prev;
                flags.rate = dt > 0.0 && ((value - v_prev) / dt).abs() > limit;
            }
            self.last_accepted = Some((t, value));
            self.window.push(t, value);
            self.ewma.observe(cfg.ewma_half_life, t, value);
            // A window too short to judge spikes (the start, or after a silence) cannot
            // tell an outlier from a level: one far from the twin is left out of the drift
            // sum, which a real drift reaches by steps, not in one reading.
            let unjudged = self.window.len() <= cfg.min_samples.max(2);
            if let Some(e) = expected.filter(|e| e.is_finite())
                && !(unjudged && (value - e).abs() > cfg.spike.min_delta)
            {
                self.cusum.observe(cfg, value - e);
            }
        }
        flags.drift = self.cusum.flag;
        flags
    }

    /// The window's centre if `value` is a spike against the window as it stands, `None`
    /// if it is not or there are too few samples to judge.
    fn spike_centre(&mut self, cfg: &SensorConfig, value: f64) -> Option<f64> {
        if self.window.len() < cfg.min_samples.max(2) {
            return None;
        }
        let rule = &cfg.spike;
        match rule.method {
            SpikeMethod::Sigma => {
                let mean = self.window.mean();
                let dev = (value - mean).abs();
                (dev > rule.threshold * self.window.std() && dev > rule.min_delta).then_some(mean)
            }
            SpikeMethod::RobustZ => {
                let (median, mad) = median_mad(self.window.values(), &mut self.scratch)?;
                let dev = (value - median).abs();
                let far = mad == 0.0 || MAD_TO_Z * dev / mad > rule.threshold;
                (far && dev > rule.min_delta).then_some(median)
            }
        }
    }

    /// Count, mean, standard deviation, min, max and 95th percentile of the window. The
    /// percentile is computed here, on a copy of the window (O(window)).
    pub fn stats(&self) -> WindowStats {
        let count = self.window.len();
        let (Some(&(_, min)), Some(&(_, max))) =
            (self.window.min_q.front(), self.window.max_q.front())
        else {
            return WindowStats {
                count: 0,
                mean: 0.0,
                std: 0.0,
                min: 0.0,
                max: 0.0,
                p95: 0.0,
            };
        };
        let mut values: Vec<f64> = self.window.values().collect();
        let rank = (0.95 * count as f64).ceil() as usize;
        let (_, &mut p95, _) =
            values.select_nth_unstable_by(rank.clamp(1, count) - 1, f64::total_cmp);
        WindowStats {
            count,
            mean: self.window.mean(),
            std: self.window.std(),
            min,
            max,
            p95,
        }
    }

    /// Exponentially weighted mean and variance of the accepted readings, with the
    /// configured half-life in sim time. `(0.0, 0.0)` before the first reading.
    pub fn ewma(&self) -> (f64, f64) {
        (self.ewma.mean, self.ewma.var)
    }

    /// Least-squares slope over the window, O(1) from the running sums.
    pub fn trend(&self, cfg: &SensorConfig) -> Trend {
        let slope_per_hour = self.window.slope() * 3600.0;
        let label = if self.window.len() < cfg.min_samples.max(2) {
            TrendLabel::Stable
        } else if slope_per_hour > cfg.trend_threshold_per_hour {
            TrendLabel::Increasing
        } else if slope_per_hour < -cfg.trend_threshold_per_hour {
            TrendLabel::Decreasing
        } else {
            TrendLabel::Stable
        };
        Trend {
            slope_per_hour,
            label,
        }
    }

    /// Signed robust z-score of `value` against the window, `0.6745 · (value − median) /
    /// MAD`. `None` when the window is empty or its MAD is 0. O(window), on a copy.
    pub fn robust_z(&self, value: f64) -> Option<f64> {
        let mut buf = Vec::with_capacity(self.window.len());
        let (median, mad) = median_mad(self.window.values(), &mut buf)?;
        (mad > 0.0).then(|| MAD_TO_Z * (value - median) / mad)
    }

    /// The last reading observed, spikes included: `(t, value)`, with `t` as treated
    /// (never earlier than a previous reading's).
    pub fn last(&self) -> Option<(f64, f64)> {
        self.last
    }
}
