//! Cost of drawing one frame of the device view for large fleets.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sim_core::snapshot::{DeviceRow, FleetSnapshot};
use std::hint::black_box;
use twin_tui::tui::app::Model;
use twin_tui::tui::view;

fn snapshot(n: usize) -> FleetSnapshot {
    FleetSnapshot {
        scenario: "bench".into(),
        broker: "mqtt://127.0.0.1:1883".into(),
        sim_now: 3600.0,
        sim_duration: 7200.0,
        speed: "1x".into(),
        devices_total: n as u64,
        recv_rate: (0..120).collect(),
        devices: (0..n)
            .map(|i| DeviceRow {
                index: i,
                id: format!("thermo-{i}"),
                environment: format!("room-{}", i / 10),
                received: (i % 97) as u64,
                last_seen: Some(3600.0 - (i % 13) as f64),
                readings: vec![
                    ("temperature".into(), 21.0),
                    ("humidity".into(), 45.0),
                    ("pressure".into(), 1013.0),
                ],
                open_alerts: (i % 50 == 0) as u32,
                online: Some(true),
                actuator: false,
                kind: scenarios::ModelKind::Bme280,
            })
            .collect(),
        ..Default::default()
    }
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render_devices_frame");
    group.sample_size(20);
    for n in [10_000, 100_000] {
        let snap = snapshot(n);
        let model = Model::default();
        let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                term.draw(|f| view::view(black_box(&model), black_box(&snap), f))
                    .expect("draw");
            });
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
