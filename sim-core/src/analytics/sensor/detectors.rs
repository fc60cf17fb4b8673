//! The detectors beside the window: an EWMA of the accepted readings, a CUSUM on the
//! residual against the twin's expectation (drift), the threshold alarm's debounce, and
//! median/MAD for the robust spike check.

use super::config::*;

/// Exponentially weighted mean and variance on sim time.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ewma {
    pub(super) last_t: Option<f64>,
    pub(super) mean: f64,
    pub(super) var: f64,
}

impl Ewma {
    pub(super) fn observe(&mut self, half_life: f64, t: f64, v: f64) {
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
pub(super) struct Cusum {
    /// Sum and count of residuals while the baseline is being learnt.
    pub(super) learn_sum: f64,
    pub(super) learn_n: usize,
    /// The sensor's own steady offset from the twin (a calibration offset), once learnt.
    pub(super) baseline: Option<f64>,
    pub(super) pos: f64,
    pub(super) neg: f64,
    /// The flag has been raised since the last reset: the episode is open.
    pub(super) open: bool,
    /// Readings in a row with |x| < k during an open episode.
    pub(super) quiet: usize,
    pub(super) flag: bool,
}

impl Cusum {
    pub(super) fn observe(&mut self, cfg: &SensorConfig, residual: f64) {
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
pub(super) struct Debounce {
    /// Bit i: the reading i back was beyond a limit.
    pub(super) beyond: u64,
    /// Bit i: the reading i back was inside the limits by the hysteresis.
    pub(super) inside: u64,
    pub(super) active: bool,
}

impl Debounce {
    pub(super) fn observe(&mut self, rule: &ThresholdRule, v: f64) -> bool {
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
pub(super) fn median_mad(
    values: impl Iterator<Item = f64>,
    buf: &mut Vec<f64>,
) -> Option<(f64, f64)> {
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
pub(super) fn median_in_place(buf: &mut [f64]) -> Option<f64> {
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
pub(super) const MAD_TO_Z: f64 = 0.6745;
