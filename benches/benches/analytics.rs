//! Analytics benchmarks: readings per second through the per-sensor path
//! (`SensorState::observe`), for one sensor and for 10,000 sensors visited round-robin.
//!
//! Run with `cargo bench -p benches --bench analytics`; figures from a reference machine
//! are in `benches/README.md`. The goal is at least 5 M readings per second on one core.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim_core::analytics::sensor::{SensorConfig, SensorState, SpikeRule};
use std::hint::black_box;
use std::time::Duration;

/// Readings per iteration of the one-sensor bench.
const BATCH: usize = 1_000;

/// Sensors in the fleet bench; one iteration gives each of them one reading.
const FLEET: usize = 10_000;

/// Length of the precomputed reading table (a power of two, so the index wraps with a
/// mask).
const TABLE_LEN: usize = 4096;

/// `(value, expected)` pairs of a healthy room sensor: the twin expects 21 °C with a swing
/// of ±0.5 over one table length (so the table wraps without a jump), the sensor reads
/// 0.3 above it (its calibration offset) with gaussian-ish noise (the sum of four
/// uniforms from a fixed xorshift seed, σ ≈ 0.15). Precomputed, so the bench times
/// `observe` and not `sin` or the generator.
fn readings() -> Vec<(f64, f64)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..TABLE_LEN)
        .map(|i| {
            let phase = i as f64 / TABLE_LEN as f64 * std::f64::consts::TAU;
            let expected = 21.0 + 0.5 * phase.sin();
            let noise = ((0..4).map(|_| uniform()).sum::<f64>() - 2.0) * 0.26;
            (expected + 0.3 + noise, expected)
        })
        .collect()
}

/// The configuration measured: the defaults (Sigma spikes, 600 s / 128-sample window,
/// drift CUSUM) plus a rate limit, so every detector on the Sigma path runs.
fn config() -> SensorConfig {
    SensorConfig {
        spike: SpikeRule::sigma(4.0, 1.0),
        max_rate_per_s: Some(2.0),
        ..SensorConfig::default()
    }
}

/// `observe` with an expected value for every reading. Readings are 1 s apart, so the
/// 128-sample cap (not the 600 s span) bounds the window and every reading evicts one.
fn observe(c: &mut Criterion) {
    let cfg = config();
    let table = readings();
    let mut group = c.benchmark_group("analytics_observe");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    // One sensor: its state stays in L1, so this is the arithmetic's cost.
    let mut state = SensorState::new(&cfg);
    let mut i: usize = 0;
    let mut fired: u64 = 0;
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("sensors", 1), |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                let (v, e) = table[i & (TABLE_LEN - 1)];
                let f = state.observe(&cfg, black_box(i as f64), black_box(v), Some(e));
                fired += u64::from(f.spike | f.stuck | f.drift | f.rate);
                i += 1;
            }
        });
    });
    // Healthy noise: a detector that fires here is measuring the wrong path.
    assert_eq!(fired, 0, "no detector fired on healthy readings");
    assert_eq!(state.stats().count, 128, "the window is full");

    // 10,000 sensors round-robin: each reading touches another sensor's window, as ingest
    // does with a fleet, so this includes the cache misses.
    let mut states: Vec<SensorState> = (0..FLEET).map(|_| SensorState::new(&cfg)).collect();
    let mut round: usize = 0;
    let step = |states: &mut [SensorState], round: usize| -> u64 {
        let t = round as f64;
        let mut fired = 0;
        for (k, s) in states.iter_mut().enumerate() {
            // Each sensor starts at its own place in the table, and moves one entry a round.
            let (v, e) = table[(round + k * 7) & (TABLE_LEN - 1)];
            let f = s.observe(&cfg, black_box(t), black_box(v), Some(e));
            fired += u64::from(f.spike | f.stuck | f.drift | f.rate);
        }
        fired
    };
    // Fill every window first, so the measured readings are the steady state.
    for _ in 0..200 {
        assert_eq!(step(&mut states, round), 0, "warm-up readings are healthy");
        round += 1;
    }
    let mut fired: u64 = 0;
    group.throughput(Throughput::Elements(FLEET as u64));
    group.bench_function(BenchmarkId::new("sensors", FLEET), |b| {
        b.iter(|| {
            fired += step(&mut states, round);
            round += 1;
        });
    });
    assert_eq!(fired, 0, "no detector fired on healthy readings");
    group.finish();
}

/// The whole core as ingest drives it: `FleetAnalytics::observe` for one BME280 message
/// (three analysed readings with the twin's expected values) per device, 10,000 devices
/// round-robin, sequence health and staleness scans included. Throughput is in readings.
fn fleet_observe(c: &mut Criterion) {
    use sim_core::analytics::fleet::{FleetAnalytics, FleetConfig, SeqEvent};
    const DEVICES: usize = 10_000;
    let ids: Vec<String> = (0..DEVICES).map(|i| format!("node-{i}")).collect();
    let models = vec![scenarios::ModelKind::Bme280; DEVICES];
    let periods = vec![10.0; DEVICES];
    let mut fleet = FleetAnalytics::new(FleetConfig::default(), ids, &models, &periods);
    let table = readings();
    let mut expected: [(&'static str, f64); 3] =
        [("temperature", 0.0), ("humidity", 0.0), ("pressure", 0.0)];
    let mut msg: Vec<(String, f64)> = vec![
        ("temperature".into(), 0.0),
        ("humidity".into(), 0.0),
        ("pressure".into(), 0.0),
    ];
    let mut step = 0usize;
    let mut run_round = |fleet: &mut FleetAnalytics, step: &mut usize| {
        // Every device publishes once per 10 s of sim time.
        let t = *step as f64 * 10.0;
        let (v, e) = table[*step % table.len()];
        expected[0].1 = e;
        expected[1].1 = 45.0 + (e - 21.0);
        expected[2].1 = 1013.0 + (e - 21.0) * 0.1;
        for d in 0..DEVICES {
            msg[0].1 = v;
            msg[1].1 = 45.0 + (v - 21.0);
            msg[2].1 = 1013.0 + (v - 21.0) * 0.1;
            fleet.observe(d as u32, t, &msg, &expected, SeqEvent::default());
        }
        *step += 1;
    };
    for _ in 0..64 {
        run_round(&mut fleet, &mut step);
    }
    let mut group = c.benchmark_group("analytics_fleet");
    group.throughput(Throughput::Elements((DEVICES * 3) as u64));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(5));
    group.bench_function(BenchmarkId::new("bme280_devices", DEVICES), |b| {
        b.iter(|| run_round(black_box(&mut fleet), &mut step));
    });
    group.finish();
    assert!(
        fleet.alerts().is_empty(),
        "a healthy fleet raised alerts: {:?}",
        &fleet.alerts()[..fleet.alerts().len().min(3)]
    );
}

criterion_group!(analytics, observe, fleet_observe);
criterion_main!(analytics);
