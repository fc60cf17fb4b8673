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

use std::collections::VecDeque;

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
            ewma_half_life: 300.0,
            trend_threshold_per_hour: 0.5,
            max_rate_per_s: None,
            cusum_k: 0.3,
            cusum_h: 4.0,
            threshold: None,
        }
    }
}

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

/// Summary of the samples in the window. All zero when the window is empty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    /// Samples in the window.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1); 0 for fewer than two samples.
    pub std: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// 95th percentile, nearest rank: the ⌈0.95·n⌉-th smallest sample.
    pub p95: f64,
}

/// Direction of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrendLabel {
    /// Slope above `trend_threshold_per_hour`.
    Increasing,
    /// Slope below `−trend_threshold_per_hour`.
    Decreasing,
    /// Neither, or too few samples to tell.
    Stable,
}

/// Least-squares trend of the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// Slope of the least-squares line through the window, units per hour (0 with fewer
    /// than two distinct times).
    pub slope_per_hour: f64,
    /// Its direction; [`TrendLabel::Stable`] before `min_samples` samples.
    pub label: TrendLabel,
}

/// Running sums over the window, taken relative to a reference sample `(t0, v0)` so they
/// stay small: with absolute values (a pressure near 101 325 Pa, a Unix time near 1.7e9)
/// the variance would be the difference of two huge, nearly equal numbers.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    t0: f64,
    v0: f64,
    t: f64,
    tt: f64,
    v: f64,
    vv: f64,
    tv: f64,
}

impl Sums {
    fn add(&mut self, t: f64, v: f64) {
        let (dt, dv) = (t - self.t0, v - self.v0);
        self.t += dt;
        self.tt += dt * dt;
        self.v += dv;
        self.vv += dv * dv;
        self.tv += dt * dv;
    }

    fn remove(&mut self, t: f64, v: f64) {
        let (dt, dv) = (t - self.t0, v - self.v0);
        self.t -= dt;
        self.tt -= dt * dt;
        self.v -= dv;
        self.vv -= dv * dv;
        self.tv -= dt * dv;
    }
}

/// The sliding window: samples oldest first, with O(1) count, mean, variance, slope, min
/// and max.
#[derive(Debug, Clone)]
struct Window {
    /// `(t, value)`, oldest first; never longer than `cap`.
    samples: VecDeque<(f64, f64)>,
    cap: usize,
    /// Sequence number of `samples.front()`; the n-th sample behind it is `front_seq + n`.
    /// Lets the min/max deques tell which of their entries have left the window.
    front_seq: u64,
    /// `(seq, value)` with increasing values: the front is the window's minimum.
    min_q: VecDeque<(u64, f64)>,
    /// `(seq, value)` with decreasing values: the front is the window's maximum.
    max_q: VecDeque<(u64, f64)>,
    sums: Sums,
    /// Removals since the sums were last recomputed. Subtracting leaves rounding behind;
    /// recomputing once every `cap` removals bounds it, at O(1) amortised.
    removed: usize,
}

impl Window {
    fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Window {
            samples: VecDeque::with_capacity(cap),
            cap,
            front_seq: 0,
            min_q: VecDeque::with_capacity(cap),
            max_q: VecDeque::with_capacity(cap),
            sums: Sums::default(),
            removed: 0,
        }
    }

    fn len(&self) -> usize {
        self.samples.len()
    }

    fn push(&mut self, t: f64, v: f64) {
        if self.samples.len() >= self.cap {
            self.pop_front();
        }
        if self.samples.is_empty() {
            self.sums = Sums {
                t0: t,
                v0: v,
                ..Sums::default()
            };
            self.removed = 0;
        }
        let seq = self.front_seq + self.samples.len() as u64;
        self.samples.push_back((t, v));
        while self.min_q.back().is_some_and(|&(_, m)| m >= v) {
            self.min_q.pop_back();
        }
        self.min_q.push_back((seq, v));
        while self.max_q.back().is_some_and(|&(_, m)| m <= v) {
            self.max_q.pop_back();
        }
        self.max_q.push_back((seq, v));
        self.sums.add(t, v);
    }

    fn pop_front(&mut self) {
        let Some((t, v)) = self.samples.pop_front() else {
            return;
        };
        if self
            .min_q
            .front()
            .is_some_and(|&(s, _)| s == self.front_seq)
        {
            self.min_q.pop_front();
        }
        if self
            .max_q
            .front()
            .is_some_and(|&(s, _)| s == self.front_seq)
        {
            self.max_q.pop_front();
        }
        self.front_seq += 1;
        self.removed += 1;
        if self.removed >= self.cap {
            self.recompute();
        } else {
            self.sums.remove(t, v);
        }
    }

    /// Drops the samples older than `t_min`.
    fn evict_before(&mut self, t_min: f64) {
        while self.samples.front().is_some_and(|&(t, _)| t < t_min) {
            self.pop_front();
        }
    }

    fn clear(&mut self) {
        self.front_seq += self.samples.len() as u64;
        self.samples.clear();
        self.min_q.clear();
        self.max_q.clear();
        self.sums = Sums::default();
        self.removed = 0;
    }

    /// The sums from scratch, relative to the oldest sample.
    fn recompute(&mut self) {
        self.removed = 0;
        let Some(&(t0, v0)) = self.samples.front() else {
            self.sums = Sums::default();
            return;
        };
        self.sums = Sums {
            t0,
            v0,
            ..Sums::default()
        };
        for &(t, v) in &self.samples {
            self.sums.add(t, v);
        }
    }

    fn mean(&self) -> f64 {
        let n = self.samples.len() as f64;
        self.sums.v0 + self.sums.v / n
    }

    fn std(&self) -> f64 {
        let n = self.samples.len();
        if n < 2 {
            return 0.0;
        }
        let nf = n as f64;
        let ss = self.sums.vv - self.sums.v * self.sums.v / nf;
        (ss / (nf - 1.0)).max(0.0).sqrt()
    }

    /// Least-squares slope, units per second.
    fn slope(&self) -> f64 {
        let n = self.samples.len() as f64;
        if n < 2.0 {
            return 0.0;
        }
        let s = &self.sums;
        let sxx = s.tt - s.t * s.t / n;
        // All samples at (nearly) the same time: no slope to speak of.
        if sxx <= 1e-9 * s.tt {
            return 0.0;
        }
        (s.tv - s.t * s.v / n) / sxx
    }

    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.samples.iter().map(|&(_, v)| v)
    }
}

/// Exponentially weighted mean and variance on sim time.
#[derive(Debug, Clone, Copy, Default)]
struct Ewma {
    last_t: Option<f64>,
    mean: f64,
    var: f64,
}

impl Ewma {
    fn observe(&mut self, half_life: f64, t: f64, v: f64) {
        let Some(last_t) = self.last_t else {
            *self = Ewma {
                last_t: Some(t),
                mean: v,
                var: 0.0,
            };
            return;
        };
        // The weight of the past halves every `half_life` seconds, however the readings
        // are spaced.
        let alpha = if half_life > 0.0 {
            1.0 - (-(t - last_t) / half_life).exp2()
        } else {
            1.0
        };
        let diff = v - self.mean;
        let incr = alpha * diff;
        self.mean += incr;
        self.var = (1.0 - alpha) * (self.var + diff * incr);
        self.last_t = Some(t);
    }
}

/// Two-sided CUSUM on the residual minus its learnt baseline.
#[derive(Debug, Clone, Copy, Default)]
struct Cusum {
    /// Sum and count of residuals while the baseline is being learnt.
    learn_sum: f64,
    learn_n: usize,
    /// The sensor's own steady offset from the twin (a calibration offset), once learnt.
    baseline: Option<f64>,
    pos: f64,
    neg: f64,
    /// The flag has been raised since the last reset: the episode is open.
    open: bool,
    /// Readings in a row with |x| < k during an open episode.
    quiet: usize,
    flag: bool,
}

impl Cusum {
    fn observe(&mut self, cfg: &SensorConfig, residual: f64) {
        let Some(baseline) = self.baseline else {
            self.learn_sum += residual;
            self.learn_n += 1;
            if self.learn_n >= cfg.min_samples.max(1) {
                self.baseline = Some(self.learn_sum / self.learn_n as f64);
            }
            return;
        };
        let (k, h) = (cfg.cusum_k, cfg.cusum_h);
        let x = residual - baseline;
        self.pos = (self.pos + x - k).max(0.0);
        self.neg = (self.neg - x - k).max(0.0);
        self.flag = self.pos > h || self.neg > h;
        self.open |= self.flag;
        if self.open {
            self.quiet = if x.abs() < k { self.quiet + 1 } else { 0 };
            if self.quiet >= cfg.min_samples.max(1) {
                // The residual is back at its baseline: the episode is over, and a later
                // one starts from zero rather than from what this one accumulated.
                *self = Cusum {
                    baseline: self.baseline,
                    learn_sum: self.learn_sum,
                    learn_n: self.learn_n,
                    ..Cusum::default()
                };
            }
        }
    }
}

/// N-of-M debounce of a threshold rule.
#[derive(Debug, Clone, Copy, Default)]
struct Debounce {
    /// Bit i: the reading i back was beyond a limit.
    beyond: u64,
    /// Bit i: the reading i back was inside the limits by the hysteresis.
    inside: u64,
    active: bool,
}

impl Debounce {
    fn observe(&mut self, rule: &ThresholdRule, v: f64) -> bool {
        let m = rule.m.clamp(1, 64);
        let n = rule.n.clamp(1, m) as u32;
        let mask = if m == 64 { u64::MAX } else { (1u64 << m) - 1 };
        let out = rule.above.is_some_and(|a| v > a) || rule.below.is_some_and(|b| v < b);
        let clear = rule.above.is_none_or(|a| v <= a - rule.hysteresis)
            && rule.below.is_none_or(|b| v >= b + rule.hysteresis);
        self.beyond = ((self.beyond << 1) | u64::from(out)) & mask;
        self.inside = ((self.inside << 1) | u64::from(clear)) & mask;
        if !self.active && self.beyond.count_ones() >= n {
            self.active = true;
            // Only readings after the raise count toward clearing it.
            self.inside = 0;
        } else if self.active && self.inside.count_ones() >= n {
            self.active = false;
            self.beyond = 0;
        }
        self.active
    }
}

/// Median and median absolute deviation of `values`, using `buf` as scratch space.
/// `None` when there are no values.
fn median_mad(values: impl Iterator<Item = f64>, buf: &mut Vec<f64>) -> Option<(f64, f64)> {
    buf.clear();
    buf.extend(values);
    let median = median_in_place(buf)?;
    for x in buf.iter_mut() {
        *x = (*x - median).abs();
    }
    let mad = median_in_place(buf)?;
    Some((median, mad))
}

/// Median of `buf` (mean of the two middle values for an even count), reordering it.
fn median_in_place(buf: &mut [f64]) -> Option<f64> {
    let n = buf.len();
    if n == 0 {
        return None;
    }
    let (lower, &mut upper, _) = buf.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let below = lower.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((below + upper) / 2.0)
}

/// The scale factor that makes the MAD of normal data estimate its standard deviation
/// (Φ⁻¹(0.75)), as in Iglewicz and Hoaglin's modified z-score.
const MAD_TO_Z: f64 = 0.6745;

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
        flags.stuck = self.seen >= cfg.min_samples && self.run_len >= cfg.stuck_repeats.max(1);

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
            if let Some(e) = expected.filter(|e| e.is_finite()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    /// A healthy sensor: `n` readings every `dt` seconds, expected value a slow daily
    /// swing of ±1 around 20, the sensor reading 0.3 above it (calibration offset) with
    /// gaussian noise of `sigma`. Returns `(t, value, expected)`.
    fn healthy(seed: u64, n: usize, dt: f64, sigma: f64) -> Vec<(f64, f64, f64)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|i| {
                let t = i as f64 * dt;
                let expected = 20.0 + (t / 86_400.0 * std::f64::consts::TAU).sin();
                let noise: f64 = rng.sample(StandardNormal);
                (t, expected + 0.3 + sigma * noise, expected)
            })
            .collect()
    }

    /// Indices of the readings for which `pick` holds.
    fn fired(
        cfg: &SensorConfig,
        series: &[(f64, f64, Option<f64>)],
        pick: impl Fn(&Flags) -> bool,
    ) -> Vec<usize> {
        let mut s = SensorState::new(cfg);
        series
            .iter()
            .enumerate()
            .filter(|&(_, &(t, v, e))| pick(&s.observe(cfg, t, v, e)))
            .map(|(i, _)| i)
            .collect()
    }

    fn with_expected(series: &[(f64, f64, f64)]) -> Vec<(f64, f64, Option<f64>)> {
        series.iter().map(|&(t, v, e)| (t, v, Some(e))).collect()
    }

    /// A config whose spike check never fires, to isolate another detector.
    fn no_spikes() -> SensorConfig {
        SensorConfig {
            spike: SpikeRule::sigma(4.0, f64::INFINITY),
            ..SensorConfig::default()
        }
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
    }

    // ---- window statistics ----

    #[test]
    fn window_stats_match_brute_force() {
        let cfg = SensorConfig {
            window: 60.0,
            max_samples: 32,
            ..no_spikes()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut s = SensorState::new(&cfg);
        let mut reference: VecDeque<(f64, f64)> = VecDeque::new();
        let mut t = 1.7e9; // Unix-like times: the sums must not lose precision to them.
        for i in 0..5_000 {
            t += rng.random_range(0.0..8.0);
            let noise: f64 = rng.sample(StandardNormal);
            let v = 1000.0 + (i as f64 / 300.0).sin() * 50.0 + noise;
            s.observe(&cfg, t, v, None);
            reference.push_back((t, v));
            while reference.front().is_some_and(|&(ts, _)| ts < t - 60.0) || reference.len() > 32 {
                reference.pop_front();
            }
            let vals: Vec<f64> = reference.iter().map(|&(_, v)| v).collect();
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / n;
            let var = if vals.len() > 1 {
                vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            let mut sorted = vals.clone();
            sorted.sort_by(f64::total_cmp);
            let st = s.stats();
            assert_eq!(st.count, vals.len(), "count at {i}");
            assert!(
                close(st.mean, mean, 1e-12),
                "mean at {i}: {} vs {mean}",
                st.mean
            );
            assert!(
                close(st.std, var.sqrt(), 1e-6),
                "std at {i}: {} vs {}",
                st.std,
                var.sqrt()
            );
            assert_eq!(st.min, sorted[0], "min at {i}");
            assert_eq!(st.max, sorted[sorted.len() - 1], "max at {i}");
            let rank = (0.95 * n).ceil() as usize;
            assert_eq!(st.p95, sorted[rank - 1], "p95 at {i}");
        }
    }

    #[test]
    fn sums_stay_exact_over_a_long_run_far_from_zero() {
        // A pressure sensor near 101 325 Pa with 0.5 Pa noise, a million readings: the
        // running sums are recomputed now and then, so std is still right at the end.
        let cfg = no_spikes();
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut s = SensorState::new(&cfg);
        let mut last = Vec::new();
        for i in 0..1_000_000 {
            let noise: f64 = rng.sample(StandardNormal);
            let v = 101_325.0 + 0.5 * noise;
            s.observe(&cfg, i as f64, v, None);
            last.push(v);
        }
        let tail = &last[last.len() - 128..];
        let mean = tail.iter().sum::<f64>() / 128.0;
        let std = (tail.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 127.0).sqrt();
        let st = s.stats();
        assert!(close(st.mean, mean, 1e-12));
        assert!((st.std - std).abs() < 1e-9, "{} vs {std}", st.std);
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let cfg = SensorConfig {
            max_samples: 200,
            ..no_spikes()
        };
        let mut s = SensorState::new(&cfg);
        // 1..=100 in a scrambled order.
        for i in 0..100u32 {
            s.observe(&cfg, f64::from(i), f64::from((i * 37) % 100 + 1), None);
        }
        let st = s.stats();
        assert_eq!((st.count, st.min, st.max, st.p95), (100, 1.0, 100.0, 95.0));
        assert!(close(st.mean, 50.5, 1e-12));

        let mut s = SensorState::new(&cfg);
        for i in 1..=20u32 {
            s.observe(&cfg, f64::from(i), f64::from(i), None);
        }
        // ⌈0.95 · 20⌉ = 19.
        assert_eq!(s.stats().p95, 19.0);
    }

    #[test]
    fn empty_window_stats_are_zero() {
        let cfg = SensorConfig::default();
        let s = SensorState::new(&cfg);
        assert_eq!(s.stats().count, 0);
        assert_eq!(s.stats().mean, 0.0);
        assert_eq!(s.last(), None);
        assert_eq!(s.robust_z(1.0), None);
        assert_eq!(s.trend(&cfg).label, TrendLabel::Stable);
    }

    #[test]
    fn window_evicts_by_time() {
        let cfg = SensorConfig {
            window: 60.0,
            ..no_spikes()
        };
        let mut s = SensorState::new(&cfg);
        for i in 0..=100 {
            s.observe(&cfg, f64::from(i) * 10.0, f64::from(i), None);
        }
        // t = 940 ..= 1000: seven samples, values 94 ..= 100.
        let st = s.stats();
        assert_eq!((st.count, st.min, st.max), (7, 94.0, 100.0));
        assert!(close(st.mean, 97.0, 1e-12));
        // A long silence empties the window but the reading that ends it.
        s.observe(&cfg, 5000.0, 3.0, None);
        let st = s.stats();
        assert_eq!((st.count, st.min, st.max, st.mean), (1, 3.0, 3.0, 3.0));
    }

    #[test]
    fn window_evicts_by_max_samples() {
        let cfg = SensorConfig {
            max_samples: 5,
            ..no_spikes()
        };
        let mut s = SensorState::new(&cfg);
        for i in 0..20 {
            s.observe(&cfg, f64::from(i), f64::from(20 - i), None);
        }
        // Values 5, 4, 3, 2, 1 remain.
        let st = s.stats();
        assert_eq!((st.count, st.min, st.max), (5, 1.0, 5.0));
        assert!(close(st.mean, 3.0, 1e-12));
        assert!(close(st.std, 2.5f64.sqrt(), 1e-12));
    }

    #[test]
    fn earlier_time_is_treated_as_the_latest() {
        let cfg = SensorConfig {
            max_rate_per_s: Some(0.1),
            ..no_spikes()
        };
        let mut s = SensorState::new(&cfg);
        s.observe(&cfg, 100.0, 1.0, None);
        // 5 s earlier and a big change: Δt is 0, so no rate verdict.
        let f = s.observe(&cfg, 95.0, 50.0, None);
        assert!(!f.rate);
        assert_eq!(s.last(), Some((100.0, 50.0)));
        // And the next reading measures its rate from t = 100.
        let f = s.observe(&cfg, 110.0, 51.5, None);
        assert!(f.rate, "1.5 in 10 s is over 0.1/s");
    }

    #[test]
    fn non_finite_readings_are_ignored() {
        let cfg = SensorConfig::default();
        let mut s = SensorState::new(&cfg);
        s.observe(&cfg, 1.0, 20.0, None);
        assert_eq!(s.observe(&cfg, 2.0, f64::NAN, None), Flags::default());
        assert_eq!(s.observe(&cfg, f64::INFINITY, 20.0, None), Flags::default());
        assert_eq!(s.stats().count, 1);
        assert_eq!(s.last(), Some((1.0, 20.0)));
    }

    // ---- spike ----

    /// 1000 healthy readings 1 s apart with a spike of +3 at 300 and −2.5 at 700.
    fn spiky() -> Vec<(f64, f64, Option<f64>)> {
        let mut series = with_expected(&healthy(1, 1000, 1.0, 0.15));
        series[300].1 += 3.0;
        series[700].1 -= 2.5;
        series
    }

    #[test]
    fn sigma_spike_fires_at_the_spikes_only() {
        let cfg = SensorConfig::default();
        assert_eq!(fired(&cfg, &spiky(), |f| f.spike), vec![300, 700]);
    }

    #[test]
    fn robust_z_spike_fires_at_the_spikes_only() {
        let cfg = SensorConfig {
            spike: SpikeRule::robust_z(3.5, 1.0),
            ..SensorConfig::default()
        };
        assert_eq!(fired(&cfg, &spiky(), |f| f.spike), vec![300, 700]);
    }

    #[test]
    fn spikes_stay_silent_on_healthy_noise() {
        let series = with_expected(&healthy(2, 10_000, 10.0, 0.15));
        for spike in [SpikeRule::default(), SpikeRule::robust_z(3.5, 1.0)] {
            let cfg = SensorConfig {
                spike,
                ..SensorConfig::default()
            };
            assert_eq!(
                fired(&cfg, &series, |f| f.spike),
                Vec::<usize>::new(),
                "{spike:?}"
            );
        }
        // The sigma rule alone, no minimum deviation: 6 sigma is never reached by noise.
        let cfg = SensorConfig {
            spike: SpikeRule::sigma(6.0, 0.0),
            ..SensorConfig::default()
        };
        assert_eq!(fired(&cfg, &series, |f| f.spike), Vec::<usize>::new());
    }

    #[test]
    fn spike_needs_min_delta_and_min_samples() {
        // A very quiet sensor: a 0.5 jump is 50 sigma, but under min_delta = 1.0.
        let mut series = with_expected(&healthy(3, 200, 1.0, 0.01));
        series[100].1 += 0.5;
        assert_eq!(
            fired(&SensorConfig::default(), &series, |f| f.spike),
            Vec::<usize>::new()
        );
        let cfg = SensorConfig {
            spike: SpikeRule::sigma(4.0, 0.2),
            ..SensorConfig::default()
        };
        assert_eq!(fired(&cfg, &series, |f| f.spike), vec![100]);

        // Before min_samples samples there is no verdict.
        let mut series = with_expected(&healthy(3, 20, 1.0, 0.01));
        series[5].1 += 10.0;
        series[15].1 += 30.0;
        // The first outlier came too early to be judged, so it is in the window (and
        // widens it): the second one has to be bigger to stand out.
        assert_eq!(
            fired(&SensorConfig::default(), &series, |f| f.spike),
            vec![15]
        );
    }

    #[test]
    fn spike_does_not_enter_the_window() {
        let cfg = SensorConfig::default();
        let mut s = SensorState::new(&cfg);
        for (t, v, e) in healthy(4, 300, 1.0, 0.15) {
            s.observe(&cfg, t, v, Some(e));
        }
        let before = s.stats();
        let f = s.observe(&cfg, 300.0, before.mean + 5.0, None);
        assert!(f.spike);
        assert_eq!(s.stats(), before, "the window is as it was");
        assert_eq!(
            s.last(),
            Some((300.0, before.mean + 5.0)),
            "but it was observed"
        );
        // The band did not widen: a second one just like it is a spike too.
        assert!(s.observe(&cfg, 301.0, before.mean + 5.0, None).spike);
        assert_eq!(s.stats(), before);
        // And a normal reading is accepted again.
        assert!(!s.observe(&cfg, 302.0, before.mean, None).spike);
        assert_eq!(s.stats().count, before.count);
        assert_ne!(s.stats(), before);
    }

    #[test]
    fn robust_z_uses_median_and_mad() {
        let cfg = SensorConfig {
            min_samples: 2,
            ..no_spikes()
        };
        let mut s = SensorState::new(&cfg);
        for (i, v) in [1.0, 2.0, 3.0, 4.0, 100.0].into_iter().enumerate() {
            s.observe(&cfg, i as f64, v, None);
        }
        // Median 3, |deviations| 2, 1, 0, 1, 97: MAD 1.
        assert!(close(s.robust_z(5.0).unwrap(), 2.0 * 0.6745, 1e-12));
        assert!(close(s.robust_z(1.0).unwrap(), -2.0 * 0.6745, 1e-12));

        let mut s = SensorState::new(&cfg);
        for (i, v) in [4.0, 1.0, 3.0, 2.0].into_iter().enumerate() {
            s.observe(&cfg, i as f64, v, None);
        }
        // Median 2.5, |deviations| 1.5, 0.5, 0.5, 1.5: MAD 1.
        assert!(close(s.robust_z(3.5).unwrap(), 0.6745, 1e-12));

        let mut s = SensorState::new(&cfg);
        for i in 0..5 {
            s.observe(&cfg, f64::from(i), 7.0, None);
        }
        assert_eq!(s.robust_z(8.0), None, "MAD 0");
    }

    #[test]
    fn robust_z_with_zero_mad_uses_min_delta() {
        let cfg = SensorConfig {
            spike: SpikeRule::robust_z(3.5, 1.0),
            ..SensorConfig::default()
        };
        let mut series: Vec<_> = (0..40).map(|i| (f64::from(i), 20.0, None)).collect();
        series[20].1 = 20.5;
        series[30].1 = 21.5;
        assert_eq!(fired(&cfg, &series, |f| f.spike), vec![30]);
    }

    #[test]
    fn level_shift_moves_the_window_after_a_run_of_spikes() {
        let cfg = SensorConfig::default();
        let mut series = with_expected(&healthy(5, 400, 1.0, 0.1));
        for r in &mut series[200..] {
            r.1 += 10.0;
        }
        let mut s = SensorState::new(&cfg);
        let spikes: Vec<usize> = series
            .iter()
            .enumerate()
            .filter(|&(_, &(t, v, e))| s.observe(&cfg, t, v, e).spike)
            .map(|(i, _)| i)
            .collect();
        // Seven spikes, then the eighth in a row on the same side is a new level.
        assert_eq!(spikes, (200..207).collect::<Vec<_>>());
        let st = s.stats();
        assert!(
            st.min > 29.0 && st.mean > 30.0,
            "only the new level: {st:?}"
        );

        // Alternating outliers are no level: every one stays a spike.
        let mut series = with_expected(&healthy(5, 300, 1.0, 0.1));
        for (i, r) in series[200..].iter_mut().enumerate() {
            r.1 += if i % 2 == 0 { 10.0 } else { -10.0 };
        }
        assert_eq!(
            fired(&cfg, &series, |f| f.spike),
            (200..300).collect::<Vec<_>>()
        );
    }

    // ---- stuck ----

    #[test]
    fn stuck_fires_once_the_run_is_long_enough_and_clears_on_change() {
        let mut series = with_expected(&healthy(6, 600, 10.0, 0.15));
        let frozen = series[299].1;
        for r in &mut series[300..400] {
            r.1 = frozen;
        }
        // Reading 299 starts the run; 306 is its eighth; 400 changes.
        let cfg = SensorConfig::default();
        assert_eq!(
            fired(&cfg, &series, |f| f.stuck),
            (306..400).collect::<Vec<_>>()
        );
    }

    #[test]
    fn stuck_stays_silent_on_healthy_noise() {
        let series = with_expected(&healthy(7, 10_000, 10.0, 0.15));
        assert_eq!(
            fired(&SensorConfig::default(), &series, |f| f.stuck),
            Vec::<usize>::new()
        );
    }

    // ---- rate of change ----

    #[test]
    fn rate_fires_at_the_jump() {
        let cfg = SensorConfig {
            max_rate_per_s: Some(0.2),
            ..no_spikes()
        };
        let mut series = with_expected(&healthy(8, 300, 10.0, 0.05));
        for r in &mut series[150..] {
            r.1 += 5.0; // 5 in 10 s: 0.5/s
        }
        assert_eq!(fired(&cfg, &series, |f| f.rate), vec![150]);
    }

    #[test]
    fn rate_stays_silent_on_healthy_noise() {
        let cfg = SensorConfig {
            max_rate_per_s: Some(0.2),
            ..SensorConfig::default()
        };
        let series = with_expected(&healthy(9, 10_000, 10.0, 0.15));
        assert_eq!(fired(&cfg, &series, |f| f.rate), Vec::<usize>::new());
    }

    // ---- drift ----

    /// Expected 20 throughout; the sensor reads 0.5 above it (its calibration offset),
    /// then from reading 200 to 399 walks away by `step` per reading, then recovers.
    fn ramp(step: f64) -> Vec<(f64, f64, Option<f64>)> {
        (0..600)
            .map(|i| {
                let walk = if (200..400).contains(&i) {
                    step * f64::from(i - 200)
                } else {
                    0.0
                };
                (f64::from(i), 20.5 + walk, Some(20.0))
            })
            .collect()
    }

    #[test]
    fn drift_fires_at_the_predicted_reading_and_ends_with_the_episode() {
        let cfg = no_spikes();
        // x = 0.01·(i − 200) against the learnt offset 0.5; S+ gains x − 0.3 from 231 on,
        // so S+ = 0.005·(i − 230)(i − 229): 3.78 at 257, 4.06 at 258 > h = 4.
        // From 400 the residual is back at its baseline: eight quiet readings (400..=407)
        // end the episode.
        let want: Vec<usize> = (258..407).collect();
        assert_eq!(fired(&cfg, &ramp(0.01), |f| f.drift), want);
        assert_eq!(fired(&cfg, &ramp(-0.01), |f| f.drift), want, "downward");
    }

    #[test]
    fn drift_needs_the_expected_value() {
        let cfg = no_spikes();
        let series: Vec<_> = ramp(0.01)
            .into_iter()
            .map(|(t, v, _)| (t, v, None))
            .collect();
        assert_eq!(fired(&cfg, &series, |f| f.drift), Vec::<usize>::new());
    }

    #[test]
    fn drift_learns_the_calibration_offset_and_stays_silent_on_noise() {
        // The sensor reads 0.6 above the twin: twice k. Without the learnt baseline the
        // CUSUM would cross h within a few dozen readings.
        let series: Vec<_> = healthy(10, 10_000, 10.0, 0.15)
            .into_iter()
            .map(|(t, v, e)| (t, v + 0.3, Some(e)))
            .collect();
        assert_eq!(
            fired(&SensorConfig::default(), &series, |f| f.drift),
            Vec::<usize>::new()
        );
        // The same sensor after a real drift of 0.02 per reading from reading 5000 does fire.
        let mut drifting = series.clone();
        for (i, r) in drifting.iter_mut().enumerate().skip(5000) {
            r.1 += 0.02 * (i - 5000) as f64;
        }
        let hits = fired(&SensorConfig::default(), &drifting, |f| f.drift);
        let first = hits.first().copied();
        assert!(
            first.is_some_and(|i| (5015..5060).contains(&i)),
            "first drift at {first:?}"
        );
    }

    #[test]
    fn spikes_do_not_feed_the_drift_cusum() {
        // Every third reading after 100 is a spike of +20: if the CUSUM saw them
        // (x = 20 − k each time) it would cross h at the first one.
        let cfg = SensorConfig::default();
        let series: Vec<_> = (0..400)
            .map(|i| {
                let spike = if i > 100 && i % 3 == 0 { 20.0 } else { 0.0 };
                (f64::from(i), 20.5 + spike, Some(20.0))
            })
            .collect();
        let mut s = SensorState::new(&cfg);
        let mut spikes = 0;
        for &(t, v, e) in &series {
            let f = s.observe(&cfg, t, v, e);
            spikes += usize::from(f.spike);
            assert!(!f.drift, "drift at t = {t}");
        }
        assert_eq!(spikes, (101..400).filter(|i| i % 3 == 0).count());
    }

    // ---- threshold ----

    #[test]
    fn threshold_debounces_and_clears_with_hysteresis() {
        let rule = ThresholdRule {
            above: Some(25.0),
            below: None,
            hysteresis: 1.0,
            n: 3,
            m: 5,
        };
        let cfg = SensorConfig {
            threshold: Some(rule),
            ..no_spikes()
        };
        let series: Vec<_> = (0..200)
            .map(|i| {
                let v = match i {
                    100 => 26.0,       // a lone excursion: 1 of 5
                    110..=130 => 26.0, // raised at the third, 112
                    131..=149 => 24.5, // inside the limit, not by the hysteresis
                    _ => 20.0,         // 150, 151, 152: cleared at the third
                };
                (f64::from(i), v, None)
            })
            .collect();
        assert_eq!(
            fired(&cfg, &series, |f| f.threshold),
            (112..152).collect::<Vec<_>>()
        );
    }

    #[test]
    fn threshold_below_with_single_reading_debounce() {
        let cfg = SensorConfig {
            threshold: Some(ThresholdRule {
                below: Some(5.0),
                hysteresis: 1.0,
                ..ThresholdRule::default()
            }),
            ..no_spikes()
        };
        let series: Vec<_> = [7.0, 4.0, 5.5, 5.9, 6.0, 5.5, 4.9]
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as f64, v, None))
            .collect();
        assert_eq!(fired(&cfg, &series, |f| f.threshold), vec![1, 2, 3, 6]);
    }

    #[test]
    fn threshold_stays_silent_below_the_limit() {
        let cfg = SensorConfig {
            threshold: Some(ThresholdRule {
                above: Some(22.0),
                below: Some(18.0),
                hysteresis: 0.5,
                n: 3,
                m: 5,
            }),
            ..SensorConfig::default()
        };
        let series = with_expected(&healthy(12, 10_000, 10.0, 0.15));
        assert_eq!(fired(&cfg, &series, |f| f.threshold), Vec::<usize>::new());
    }

    // ---- EWMA and trend ----

    #[test]
    fn ewma_halves_the_distance_every_half_life() {
        let cfg = no_spikes(); // half-life 300 s
        let mut s = SensorState::new(&cfg);
        assert_eq!(s.ewma(), (0.0, 0.0));
        for i in 0..=100 {
            s.observe(&cfg, f64::from(i), 0.0, None);
        }
        // A step to 10 at t = 101, readings every second: after 300 s, halfway.
        for i in 101..=400 {
            s.observe(&cfg, f64::from(i), 10.0, None);
        }
        assert!(close(s.ewma().0, 5.0, 1e-9), "{:?}", s.ewma());
        // The spacing does not matter: one reading 300 s later halves the rest.
        s.observe(&cfg, 700.0, 10.0, None);
        assert!(close(s.ewma().0, 7.5, 1e-9), "{:?}", s.ewma());
    }

    #[test]
    fn ewma_variance_tracks_the_noise() {
        let cfg = SensorConfig::default();
        let mut s = SensorState::new(&cfg);
        let mut rng = ChaCha8Rng::seed_from_u64(13);
        for i in 0..20_000 {
            let noise: f64 = rng.sample(StandardNormal);
            s.observe(&cfg, f64::from(i), 50.0 + 0.5 * noise, None);
        }
        let (mean, var) = s.ewma();
        assert!((mean - 50.0).abs() < 0.1, "mean {mean}");
        assert!((var - 0.25).abs() < 0.08, "variance {var}");
    }

    #[test]
    fn trend_labels_follow_the_slope() {
        let cfg = SensorConfig::default(); // ±0.5 per hour
        for (per_hour, label) in [
            (2.0, TrendLabel::Increasing),
            (-2.0, TrendLabel::Decreasing),
            (0.2, TrendLabel::Stable),
        ] {
            let mut s = SensorState::new(&cfg);
            for i in 0..200 {
                let t = 1.7e9 + f64::from(i) * 10.0;
                s.observe(
                    &cfg,
                    t,
                    20.0 + per_hour * f64::from(i) * 10.0 / 3600.0,
                    None,
                );
            }
            let tr = s.trend(&cfg);
            assert!(close(tr.slope_per_hour, per_hour, 1e-6), "{tr:?}");
            assert_eq!(tr.label, label);
        }
        // Noise with no slope is stable.
        let mut s = SensorState::new(&cfg);
        let mut rng = ChaCha8Rng::seed_from_u64(14);
        for i in 0..500 {
            let noise: f64 = rng.sample(StandardNormal);
            s.observe(&cfg, f64::from(i) * 10.0, 20.0 + 0.05 * noise, None);
        }
        let tr = s.trend(&cfg);
        assert!(tr.slope_per_hour.abs() < 0.5, "{tr:?}");
        assert_eq!(tr.label, TrendLabel::Stable);
    }
}
