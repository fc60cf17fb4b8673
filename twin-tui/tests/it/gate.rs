//! `--fail-on` SLO gates on `twin load pub`, `sub` and `conn`, against Mosquitto: green
//! on a healthy broker; loss trips on a broker whose queue is too small, p99 on a broker
//! paused with SIGSTOP; a figure nothing measured holds; a bad condition is bad input.

use crate::{repo, stderr, twin};
use sim_core::test_support::Mosquitto;
use std::io::BufRead as _;
use std::process::{Command, Stdio};

/// A fresh directory for one test's reports.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-gate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn report(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("JSON")
}

fn verdicts(r: &serde_json::Value) -> Vec<(String, bool)> {
    r["fail_on"]
        .as_array()
        .expect("fail_on")
        .iter()
        .map(|v| {
            (
                v["condition"].as_str().expect("a condition").to_string(),
                v["held"].as_bool().expect("held"),
            )
        })
        .collect()
}

#[test]
fn a_healthy_broker_passes_every_gate_and_each_is_named() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").expect("mosquitto");
    let dir = scratch("healthy");
    let json = dir.join("pub.json");
    let o = twin(&[
        "load",
        "pub",
        "-c",
        "4",
        "--rate",
        "400",
        "--duration",
        "2s",
        "--drain",
        "2s",
        "--quiet",
        "--broker",
        &m.url(),
        "--json",
        json.to_str().unwrap(),
        "--fail-on",
        "p99>5s,loss>0,dup>0,reorder>0,connect_fail>0,rate<0.9",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&json);
    crate::schemas::assert_valid("load-pub", &r);
    let v = verdicts(&r);
    assert_eq!(v.len(), 6);
    assert!(v.iter().all(|(_, held)| !held), "{v:?}");
    let rate = r["fail_on"][5]["measured"].as_f64().unwrap();
    assert!((0.95..=1.05).contains(&rate), "{rate}");
    // A bad condition is refused before anything runs.
    let o = twin(&["load", "pub", "--broker", &m.url(), "--fail-on", "p98>5ms"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("p98 is not a figure here"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn loss_on_a_broker_whose_queue_is_too_small_fails_the_gate() {
    if !Mosquitto::wanted() {
        return;
    }
    // The counting subscriber's queue holds 10 messages, one in flight at a time.
    let m = Mosquitto::start("max_queued_messages 10\nmax_inflight_messages 1").expect("mosquitto");
    let dir = scratch("loss");
    let json = dir.join("pub.json");
    let o = twin(&[
        "load",
        "pub",
        "-c",
        "20",
        "--rate",
        "4000",
        "--duration",
        "2s",
        "--drain",
        "2s",
        "--quiet",
        "--broker",
        &m.url(),
        "--json",
        json.to_str().unwrap(),
        "--fail-on",
        "loss>0,dup>0",
    ]);
    let r = report(&json);
    assert!(
        r["messages"]["lost"].as_u64().unwrap() > 0,
        "{}",
        r["messages"]
    );
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert_eq!(
        verdicts(&r),
        [("loss>0".to_string(), true), ("dup>0".to_string(), false)]
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("fail-on   loss>0: HELD (measured"), "{out}");
}

#[test]
fn a_broker_paused_mid_run_fails_the_latency_gate() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").expect("mosquitto");
    let dir = scratch("paused");
    let json = dir.join("pub.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "load",
            "pub",
            "-c",
            "2",
            "--rate",
            "200",
            "--duration",
            "5s",
            "--drain",
            "5s",
        ])
        .args(["--broker", &m.url(), "--json", json.to_str().unwrap()])
        .args(["--fail-on", "p99>300ms,loss>0"])
        .current_dir(repo())
        .env_remove("TWIN_BROKER")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("an interval line").expect("text");
    assert!(first.contains("sent"), "{first}");
    m.signal("STOP").expect("SIGSTOP");
    // The pause itself: a second and a half of a broker that reads nothing.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    m.signal("CONT").expect("SIGCONT");
    for _ in lines.by_ref() {}
    let status = child.wait().expect("twin ends");
    let r = report(&json);
    assert_eq!(status.code(), Some(3), "{}", r["fail_on"]);
    assert_eq!(
        verdicts(&r),
        [
            ("p99>300ms".to_string(), true),
            ("loss>0".to_string(), false)
        ]
    );
    assert!(r["fail_on"][0]["measured"].as_f64().unwrap() > 300.0);
}

#[test]
fn sub_and_conn_gates_and_a_figure_nothing_measured() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").expect("mosquitto");
    let dir = scratch("subconn");
    let json = dir.join("conn.json");
    let o = twin(&[
        "load",
        "conn",
        "-c",
        "20",
        "--hold",
        "1s",
        "--quiet",
        "--broker",
        &m.url(),
        "--json",
        json.to_str().unwrap(),
        "--fail-on",
        "connect_fail>0,dropped>0,p99>5s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = report(&json);
    crate::schemas::assert_valid("load-conn", &r);
    assert!(
        verdicts(&r).iter().all(|(_, held)| !held),
        "{}",
        r["fail_on"]
    );
    // Nobody publishes: no latency was measured, and a gate never passes on nothing.
    let json = dir.join("sub.json");
    let o = twin(&[
        "load",
        "sub",
        "--duration",
        "1s",
        "--quiet",
        "--broker",
        &m.url(),
        "--json",
        json.to_str().unwrap(),
        "--fail-on",
        "p99>1s,dup>0",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let r = report(&json);
    crate::schemas::assert_valid("load-sub", &r);
    assert_eq!(
        verdicts(&r),
        [("p99>1s".to_string(), true), ("dup>0".to_string(), false)]
    );
    assert!(r["fail_on"][0]["measured"].is_null());
    assert!(String::from_utf8_lossy(&o.stdout).contains("p99>1s: HELD (not measured)"));
}
