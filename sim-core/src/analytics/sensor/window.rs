//! The sliding window: samples oldest first, with O(1) count, mean, variance, slope,
//! min and max (running sums and monotonic deques), and the summaries it yields.

use std::collections::VecDeque;

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
pub(super) struct Sums {
    pub(super) t0: f64,
    pub(super) v0: f64,
    pub(super) t: f64,
    pub(super) tt: f64,
    pub(super) v: f64,
    pub(super) vv: f64,
    pub(super) tv: f64,
}

impl Sums {
    pub(super) fn add(&mut self, t: f64, v: f64) {
        let (dt, dv) = (t - self.t0, v - self.v0);
        self.t += dt;
        self.tt += dt * dt;
        self.v += dv;
        self.vv += dv * dv;
        self.tv += dt * dv;
    }

    pub(super) fn remove(&mut self, t: f64, v: f64) {
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
pub(super) struct Window {
    /// `(t, value)`, oldest first; never longer than `cap`.
    pub(super) samples: VecDeque<(f64, f64)>,
    pub(super) cap: usize,
    /// Sequence number of `samples.front()`; the n-th sample behind it is `front_seq + n`.
    /// Lets the min/max deques tell which of their entries have left the window.
    pub(super) front_seq: u64,
    /// `(seq, value)` with increasing values: the front is the window's minimum.
    pub(super) min_q: VecDeque<(u64, f64)>,
    /// `(seq, value)` with decreasing values: the front is the window's maximum.
    pub(super) max_q: VecDeque<(u64, f64)>,
    pub(super) sums: Sums,
    /// Removals since the sums were last recomputed. Subtracting leaves rounding behind;
    /// recomputing once every `cap` removals bounds it, at O(1) amortised.
    pub(super) removed: usize,
}

impl Window {
    pub(super) fn new(cap: usize) -> Self {
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

    pub(super) fn len(&self) -> usize {
        self.samples.len()
    }

    pub(super) fn push(&mut self, t: f64, v: f64) {
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

    pub(super) fn pop_front(&mut self) {
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
    pub(super) fn evict_before(&mut self, t_min: f64) {
        while self.samples.front().is_some_and(|&(t, _)| t < t_min) {
            self.pop_front();
        }
    }

    pub(super) fn clear(&mut self) {
        self.front_seq += self.samples.len() as u64;
        self.samples.clear();
        self.min_q.clear();
        self.max_q.clear();
        self.sums = Sums::default();
        self.removed = 0;
    }

    /// The sums from scratch, relative to the oldest sample.
    pub(super) fn recompute(&mut self) {
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

    pub(super) fn mean(&self) -> f64 {
        let n = self.samples.len() as f64;
        self.sums.v0 + self.sums.v / n
    }

    pub(super) fn std(&self) -> f64 {
        let n = self.samples.len();
        if n < 2 {
            return 0.0;
        }
        let nf = n as f64;
        let ss = self.sums.vv - self.sums.v * self.sums.v / nf;
        (ss / (nf - 1.0)).max(0.0).sqrt()
    }

    /// Least-squares slope, units per second.
    pub(super) fn slope(&self) -> f64 {
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

    pub(super) fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.samples.iter().map(|&(_, v)| v)
    }
}
