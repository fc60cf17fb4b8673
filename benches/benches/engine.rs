//! Engine benchmarks: one simulation step of a whole fleet, and the telemetry wire
//! encoding and decoding every message goes through.
//!
//! Run with `cargo bench -p benches`; figures from a reference machine are in
//! `benches/README.md`.

use benches::{BME280_READINGS, DHT22_READINGS, LONGEST_PERIOD_S, fleet_toml};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sim_core::sim::{Sim, SimIo};
use sim_core::wire::{Decoded, Encoding, Payload, Value};
use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Fleet sizes for `sim_step`.
const FLEET_SIZES: [usize; 3] = [1_000, 10_000, 100_000];

/// Cost of one `Sim::step(1)` (every system, including the `try_send` of the telemetry
/// it produces) for fleets of 1k, 10k and 100k devices. Throughput is in devices, so
/// criterion's elements/s is devices stepped per second.
fn sim_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim_step");
    for n in FLEET_SIZES {
        let scenario =
            scenarios::parse(&fleet_toml(n), "bench.toml").expect("the generated fleet is valid");
        assert_eq!(scenario.devices.len(), n, "fleet size");
        // Room for a whole step's telemetry: the outbox is drained after every step.
        let (io, mut outbox_rx, _cmd_tx, _sessions_rx) = SimIo::detached(n);
        let mut sim = Sim::new(&scenario, io);

        // Warm up until every device has published once, so the measured steps are the
        // steady state (every device on its regular period), not the jittered start.
        let mut seen = HashSet::with_capacity(n);
        for _ in 0..LONGEST_PERIOD_S {
            sim.step(1);
            while let Ok(t) = outbox_rx.try_recv() {
                seen.insert(t.device);
            }
        }
        assert_eq!(seen.len(), n, "every device published during the warm-up");

        group.throughput(Throughput::Elements(n as u64));
        if n >= 100_000 {
            group.sample_size(10);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(4));
        } else {
            group.sample_size(50);
            group.warm_up_time(Duration::from_secs(1));
            group.measurement_time(Duration::from_secs(4));
        }
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let mut measured = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    sim.step(1);
                    measured += start.elapsed();
                    // Drain as the transport would, untimed: the consumer's side is not
                    // part of the step, and an empty outbox keeps every send a real send.
                    while outbox_rx.try_recv().is_ok() {}
                }
                measured
            });
        });
        assert_eq!(
            sim.stats().dropped_total(),
            0,
            "the outbox never filled, so every message took the send path"
        );
    }
    group.finish();
}

/// The two payload shapes measured: a DHT22 node on a battery and a BME280 node.
const PAYLOADS: [(&str, &[(&str, Value)]); 2] =
    [("dht22", DHT22_READINGS), ("bme280", BME280_READINGS)];

const ENCODINGS: [Encoding; 2] = [Encoding::Json, Encoding::MsgPack];

fn payload(readings: &'static [(&'static str, Value)]) -> Payload<'static> {
    Payload {
        device_id: "thermo-7",
        seq: 1042,
        timestamp: 1_732_871_200.5,
        sent_us: None,
        readings,
    }
}

/// Encoding one telemetry payload into a reused buffer, as the publisher does.
fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (model, readings) in PAYLOADS {
        let p = payload(readings);
        for enc in ENCODINGS {
            let mut buf = Vec::with_capacity(256);
            group.bench_function(BenchmarkId::new(enc.name(), model), |b| {
                b.iter(|| {
                    black_box(&p)
                        .encode_into(enc, &mut buf)
                        .expect("finite readings always encode");
                    black_box(buf.len())
                });
            });
        }
    }
    group.finish();
}

/// Decoding one telemetry payload, as ingest does for every message it receives.
fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for (model, readings) in PAYLOADS {
        for enc in ENCODINGS {
            let mut bytes = Vec::new();
            payload(readings)
                .encode_into(enc, &mut bytes)
                .expect("finite readings always encode");
            group.bench_function(BenchmarkId::new(enc.name(), model), |b| {
                b.iter(|| {
                    Decoded::decode(enc, black_box(&bytes)).expect("our own payload decodes")
                });
            });
        }
    }
    group.finish();
}

criterion_group!(engine, sim_step, encode, decode);
criterion_main!(engine);
