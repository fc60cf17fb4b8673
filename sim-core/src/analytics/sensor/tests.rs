//! Unit tests of the sensor analytics.

use super::config::*;
use super::state::*;
use super::window::*;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use std::collections::VecDeque;

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

#[test]
fn an_outlier_after_a_silence_does_not_feed_the_drift_cusum() {
    // A healthy sensor, then twenty minutes of silence (the window empties), then one
    // reading 10 off the twin (too few samples to call it a spike), then healthy again.
    let cfg = SensorConfig::default();
    let mut series: Vec<_> = (0..200)
        .map(|i| (f64::from(i) * 10.0, 20.5, Some(20.0)))
        .collect();
    series.push((3200.0, 30.5, Some(20.0)));
    series.extend((1..100).map(|i| (3200.0 + f64::from(i) * 10.0, 20.5, Some(20.0))));
    assert_eq!(fired(&cfg, &series, |f| f.drift), Vec::<usize>::new());
    // A reading as far off with a full window is judged a spike, not a drift, as before.
    let mut full = series.clone();
    full[200].0 = 2000.0;
    assert_eq!(fired(&cfg, &full, |f| f.drift), Vec::<usize>::new());
    assert_eq!(fired(&cfg, &full, |f| f.spike), vec![200]);
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
