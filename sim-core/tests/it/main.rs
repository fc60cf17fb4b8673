//! sim-core integration tests: the sim alone, then whole runs over real brokers.
#![expect(
    clippy::unwrap_used,
    reason = "helpers outside #[test] fns panic on failure, as tests do"
)]

mod conformance;
mod datasheet;
mod examples;
mod faults;
mod flow;
mod gateway;
mod hostile;
mod load;
mod load_sub;
mod mosquitto;
mod mqtt5;
mod network;
mod overload;
mod reliability;
mod shard;
mod sim;
mod tls;
mod truth;
mod user_model;

use scenarios::Scenario;
use sim_core::report::Report;
use sim_core::run::{Progress, RunOptions};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Tests that load the machine hard (high message rates) or that grade timing-sensitive
/// detection hold this, so they do not starve each other on a 2-core machine.
pub fn heavy() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());
    HEAVY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Parse a scenario written in the test.
pub fn scenario(src: &str) -> Scenario {
    scenarios::parse(src, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Run a scenario to its end on a fresh runtime; `url` = None for the embedded broker.
pub fn run_blocking(s: &Scenario, url: Option<String>) -> Report {
    run_with(
        s,
        RunOptions {
            broker_url: url,
            ..RunOptions::default()
        },
    )
}

/// Run a scenario to its end on a fresh runtime with these options (a 20 s drain).
pub fn run_with(s: &Scenario, opts: RunOptions) -> Report {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let opts = RunOptions {
        drain_timeout: Duration::from_secs(20),
        ..opts
    };
    let (tx, _rx) = tokio::sync::watch::channel(Progress::default());
    let report = rt
        .block_on(async {
            tokio::time::timeout(
                Duration::from_secs(240),
                sim_core::run::run(s, opts, tx, Arc::new(AtomicBool::new(false))),
            )
            .await
        })
        .expect("run finished within 240 s")
        .expect("run succeeded");
    rt.shutdown_timeout(Duration::from_secs(1));
    report
}

/// The common assertions on a clean run: every device seen, nothing lost or dropped.
pub fn assert_clean(r: &Report) {
    assert_eq!(
        r.devices.seen, r.devices.total,
        "every device seen: {:?}",
        r.devices
    );
    assert_eq!(r.messages.lost, 0, "{:?}", r.messages);
    assert_eq!(r.messages.dropped_at_source, 0, "{:?}", r.messages);
    assert_eq!(r.messages.malformed, 0, "{:?}", r.messages);
    assert_eq!(r.messages.sent, r.messages.received, "{:?}", r.messages);
    assert!(r.messages.sent > 0);
    let l = r.latency_ms.expect("latency measured");
    assert!(l.p50 > 0.0 && l.p50 <= l.p99 && l.p99 <= l.max, "{l:?}");
    assert_eq!(l.count, r.messages.received);
}
