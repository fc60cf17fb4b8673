//! Flow control from the sim to ingest: at `speed = "max"` the sim holds while its
//! window is full, so nothing is dropped at source and nothing is lost, on the embedded
//! broker and on a Mosquitto that stalls (SIGSTOP) in the middle of the run.

use crate::{assert_clean, run_with, scenario};
use sim_core::report::{FlowMode, Report};
use sim_core::run::{Flow, Progress, RunOptions};
use sim_core::test_support::Mosquitto;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// 20 DS18B20s publishing every simulated second for an hour: 72,000 messages, far
/// more than any window, with the sim unpaced.
const FLEET: &str = r#"
[scenario]
name = "flow"
seed = 3
duration = "1h"
speed = "max"
[mqtt]
qos = 1
[[environment]]
name = "hall"
[[devices]]
id = "ds-{n}"
count = 20
model = "ds18b20"
environment = "hall"
publish_every = "1s"
"#;

/// The common assertions of a clean held run.
fn assert_held_and_clean(r: &Report, window: u64) {
    assert_clean(r);
    assert_eq!(r.messages.sent, 72_000, "{:?}", r.messages);
    assert!(r.alerts.is_empty(), "a fault-free fleet: {:?}", r.alerts);
    assert_eq!(r.flow.mode, FlowMode::Hold);
    assert_eq!(r.flow.window, Some(window));
    assert_eq!(r.flow.written_off, 0, "{:?}", r.flow);
    assert!(
        r.flow.held_seconds > 0.0,
        "the sim outran the pipeline: {:?}",
        r.flow
    );
    assert!(r.flow.speed_achieved > 1.0, "{:?}", r.flow);
}

#[test]
fn at_speed_max_the_sim_holds_for_the_pipeline_and_drops_nothing() {
    let _heavy = crate::heavy();
    let opts = RunOptions {
        flow: Flow::Hold { window: Some(200) },
        ..RunOptions::default()
    };
    let r = run_with(&scenario(FLEET), opts);
    assert_held_and_clean(&r, 200);
}

/// Wait (at most `within`) until `cond` holds for the run's progress; returns it.
fn wait_for(
    rx: &watch::Receiver<Progress>,
    within: Duration,
    cond: impl Fn(&Progress) -> bool,
) -> Progress {
    let deadline = Instant::now() + within;
    loop {
        let p = *rx.borrow();
        if cond(&p) {
            return p;
        }
        assert!(Instant::now() < deadline, "progress stuck at {p:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_broker_stalled_by_sigstop_holds_the_sim_and_loses_nothing() {
    if !Mosquitto::wanted() {
        return;
    }
    let _heavy = crate::heavy();
    let m = Mosquitto::start("").unwrap();
    let (tx, rx) = watch::channel(Progress::default());
    let url = m.url();
    let run = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let opts = RunOptions {
            broker_url: Some(url),
            drain_timeout: Duration::from_secs(20),
            ..RunOptions::default()
        };
        let s = scenario(FLEET);
        let run = sim_core::run::run(&s, opts, tx, Arc::new(AtomicBool::new(false)));
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(240), run).await })
    });
    let before = wait_for(&rx, Duration::from_secs(60), |p| p.sent > 5_000);
    m.signal("STOP").unwrap();
    // Within the stall the sim holds (it held now and then before too: the pipeline is
    // slower than the unpaced sim). Messages that a later one overtook before the stop
    // stop counting for the lead after the two seconds' grace, so the sim may take a
    // step or two then; after that it stays where it is.
    wait_for(&rx, Duration::from_secs(10), |p| {
        p.held_seconds > before.held_seconds + 0.5
    });
    std::thread::sleep(Duration::from_millis(2_500));
    let first = *rx.borrow();
    std::thread::sleep(Duration::from_secs(2));
    let later = *rx.borrow();
    m.signal("CONT").unwrap();
    assert_eq!(
        (later.sim_now, later.sent, later.received),
        (first.sim_now, first.sent, first.received),
        "the sim held while the broker slept: {first:?} then {later:?}"
    );
    assert!(
        later.sent - later.received <= 800,
        "at most the window in flight: {later:?}"
    );
    let r = run
        .join()
        .unwrap()
        .expect("run ends within 240 s")
        .expect("run succeeds");
    assert_held_and_clean(&r, 800);
    assert!(r.flow.held_seconds >= 2.0, "{:?}", r.flow);
}

/// Four DHT22s every 30 s for two hours at speed "max": so few messages that the window
/// never fills, and the sim would run hundreds of sim seconds ahead of messages still in
/// its outbox (the dispatcher had not taken them yet) without the lead counting them.
const SMALL: &str = r#"
[scenario]
name = "small"
seed = 7
duration = "2h"
speed = "max"

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 4
model = "dht22"
environment = "room"
publish_every = "30s"
"#;

#[test]
fn a_small_fleet_at_speed_max_leads_no_message_by_more_than_the_lead() {
    let r = run_with(&scenario(SMALL), RunOptions::default());
    assert_clean(&r);
    assert!(
        r.alerts.is_empty(),
        "a fault-free fleet, whose messages the sim never outran: {:?}",
        r.alerts
    );
}

/// 600 DS18B20s behind two gateways publish on the same tick each second: every step
/// hands the outbox far more than a window of 20.
const BURSTS: &str = r#"
[scenario]
name = "bursts"
duration = "10m"
tick = "1s"
speed = 1

[[environment]]
name = "hall"

[[devices]]
id = "ds-{n}"
count = 600
model = "ds18b20"
environment = "hall"
publish_every = "1s"
jitter = "1ms"
gateway = "gw-{n}"
devices_per_gateway = 300
"#;

#[test]
fn stopped_while_the_broker_sleeps_a_run_ends_and_says_what_it_lost() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let (tx, rx) = watch::channel(Progress::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (url, flag) = (m.url(), stop.clone());
    let run = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let opts = RunOptions {
            broker_url: Some(url),
            flow: Flow::Hold { window: Some(20) },
            drain_timeout: Duration::from_secs(2),
            keep_retained: true,
            ..RunOptions::default()
        };
        let s = scenario(BURSTS);
        let run = sim_core::run::run(&s, opts, tx, flag);
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), run).await })
    });
    wait_for(&rx, Duration::from_secs(60), |p| p.received > 1_200);
    m.signal("STOP").unwrap();
    // What the broker sent before it slept is still read from the kernel's buffers:
    // wait until nothing more comes back, with the window full on the wire and the rest
    // of the step in the outbox.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = rx.borrow().received;
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let p = *rx.borrow();
        if p.received == seen && p.sent >= p.received + 20 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pipeline never stood still: {p:?}"
        );
        seen = p.received;
    }
    let asked = Instant::now();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let r = run.join().unwrap();
    let took = asked.elapsed();
    m.signal("CONT").unwrap();
    let r = r
        .expect("the run ends though the broker sleeps")
        .expect("a report");
    assert!(took < Duration::from_secs(20), "it took {took:?} to stop");
    assert!(r.interrupted);
    let msg = &r.messages;
    assert_eq!(msg.dropped_at_source, 0, "{msg:?}");
    assert!(
        msg.lost > 0,
        "what the sleeping broker held is lost: {msg:?}"
    );
    assert_eq!(msg.sent, msg.received + msg.lost, "{msg:?}");
}
