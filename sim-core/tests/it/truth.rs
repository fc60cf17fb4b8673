//! Every shipped example that paces itself, run at its own settings (its own speed, its
//! whole duration, on the embedded broker): no alert that a fault or a planned change
//! does not explain, and readings where the example's own comments and settings put
//! them. The examples run side by side, once for both tests (about a minute of wall
//! time); `day-1000` (unpaced), `load-10k` and `gateways-100k` (external brokers) are
//! run in `examples.rs`.

use crate::{assert_clean, run_blocking};
use sim_core::report::{DeviceReport, Report};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// The paced examples, each with its report.
const PACED: [&str; 6] = [
    "quickstart",
    "smart-home",
    "greenhouse",
    "faults",
    "pump-station",
    "office",
];

fn reports() -> &'static BTreeMap<&'static str, Report> {
    static REPORTS: OnceLock<BTreeMap<&'static str, Report>> = OnceLock::new();
    REPORTS.get_or_init(|| {
        let _heavy = crate::heavy();
        let runs: Vec<_> = PACED
            .iter()
            .map(|&name| {
                std::thread::spawn(move || {
                    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join(format!("../scenarios/examples/{name}.toml"));
                    let s = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
                    assert!(matches!(s.speed, scenarios::Speed::Factor(_)), "{name}");
                    (name, run_blocking(&s, None))
                })
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn devices<'a>(r: &'a Report, prefix: &'a str) -> impl Iterator<Item = &'a DeviceReport> {
    r.per_device
        .iter()
        .filter(move |d| d.id.starts_with(prefix))
}

#[test]
fn every_paced_example_at_its_own_settings_raises_only_explained_alerts() {
    for (name, r) in reports() {
        assert_clean(r);
        assert!(!r.interrupted, "{name} ran to its end");
        match &r.detection {
            Some(d) => assert!(
                d.false_alerts.is_empty(),
                "{name}: alerts no fault or planned change explains: {:?}",
                d.false_alerts
            ),
            None => assert!(r.alerts.is_empty(), "{name}: {:?}", r.alerts),
        }
    }
    // The faults example's control group raises nothing at all, and every kind is
    // graded precise.
    let f = &reports()["faults"];
    assert!(
        f.alerts.iter().all(|a| !a.device.starts_with("ctl-")),
        "{:?}",
        f.alerts
    );
    let d = f.detection.as_ref().unwrap();
    for (kind, k) in &d.per_kind {
        assert!(k.precision.is_none_or(|p| p == 1.0), "{kind}: {k:?}");
    }
}

#[test]
fn every_paced_example_reads_where_its_comments_and_settings_say() {
    let r = reports();
    let mean = |r: &Report, prefix: &str, reading: &str| {
        let v: Vec<f64> = devices(r, prefix)
            .map(|d| d.readings[reading].mean)
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    // smart-home and quickstart: rooms heated to a 21 °C setpoint (the smart home's
    // timeline moves one setpoint to 22.5 and sets all back to 19 for the night).
    for dev in devices(&r["smart-home"], "thermostat-") {
        let t = &dev.readings["temperature"];
        assert!(t.max >= 20.5 && t.max <= 23.5, "{}: {t:?}", dev.id);
    }
    let q: Vec<f64> = devices(&r["quickstart"], "dht-")
        .map(|d| d.readings["temperature"].max)
        .collect();
    assert!(
        q.iter().all(|&t| t > 18.0),
        "the quickstart room warms: {q:?}"
    );
    // office: "the thermostats warm every room to 21 °C", within the 1 °C band and the
    // DHT22's ±0.5 °C.
    for dev in devices(&r["office"], "dht-") {
        let t = &dev.readings["temperature"];
        assert!(t.max >= 20.4 && t.max <= 22.1, "{}: {t:?}", dev.id);
    }
    // Humidity holds the environment's setting (±amplitude, ±the part's accuracy).
    let h = mean(&r["smart-home"], "dht-", "humidity");
    assert!((40.0..=50.0).contains(&h), "smart-home humidity = 45: {h}");
    let h = mean(&r["greenhouse"], "air-", "humidity");
    assert!(
        (62.0..=88.0).contains(&h),
        "greenhouse humidity = 75 ± 10: {h}"
    );
    for dev in devices(&r["greenhouse"], "air-") {
        assert!(
            dev.readings["humidity"].max < 99.0,
            "{}: not pinned",
            dev.id
        );
    }
    // Soil moisture is a percentage; the valves' waterings raise it.
    for dev in devices(&r["greenhouse"], "soil-") {
        let m = &dev.readings["moisture"];
        assert!(
            m.min >= 0.0 && m.max <= 100.0 && m.max > m.min + 5.0,
            "{}: {m:?}",
            dev.id
        );
    }
    // pump-station: flow within its range; pump-1 runs at 80 % throughout.
    for dev in devices(&r["pump-station"], "pump-") {
        let f = &dev.readings["flow"];
        assert!(f.min >= 0.0 && f.max <= 60.0, "{}: {f:?}", dev.id);
    }
    let p1 = devices(&r["pump-station"], "pump-1").next().unwrap();
    assert!(
        (p1.readings["flow"].mean - 33.6).abs() < 1.0,
        "{:?}",
        p1.readings["flow"]
    );
}
