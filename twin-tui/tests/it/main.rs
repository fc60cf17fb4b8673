//! The `twin` binary as a user runs it: exit codes, errors, the JSON report contract.

mod tui;

use std::path::PathBuf;
use std::process::{Command, Output};

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(repo())
        .env_remove("TWIN_BROKER")
        .output()
        .expect("twin runs")
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn check_prints_the_expanded_fleet() {
    let o = twin(&["check", "scenarios/examples/smart-home.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("thermostat-{n}"), "{out}");
    assert!(out.contains("msg per sim second"), "{out}");
    let o = twin(&["check", "--json", "scenarios/examples/load-10k.toml"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["devices"], 10_000);
    assert_eq!(
        v["expected_msgs_per_sim_second"].as_f64().unwrap().round(),
        10_000.0
    );
}

#[test]
fn bad_scenarios_exit_2_with_file_line_and_column() {
    let cases = [
        ("bad_type.toml", "integer"),
        ("unknown_key.toml", "unknown field"),
        ("unknown_model.toml", "valid models are"),
        ("zero_count.toml", "at least 1"),
        ("bad_duration.toml", "duration"),
        ("undefined_environment.toml", "is not defined"),
    ];
    let dir = repo().join("scenarios/tests/invalid");
    for (file, fragment) in cases {
        let path = dir.join(file);
        assert!(path.exists(), "fixture {file}");
        let p = path.to_string_lossy().to_string();
        for cmd in ["check", "run"] {
            let o = twin(&[cmd, &p]);
            assert_eq!(o.status.code(), Some(2), "{cmd} {file}: {}", stderr(&o));
            let err = stderr(&o);
            let first = err.lines().next().unwrap_or_default();
            // "error: <path>:<line>:<col>: <message>"
            let rest = first
                .strip_prefix(&format!("error: {p}:"))
                .unwrap_or_else(|| panic!("{first}"));
            let mut parts = rest.splitn(3, ':');
            assert!(parts.next().unwrap().parse::<usize>().is_ok(), "{first}");
            assert!(parts.next().unwrap().parse::<usize>().is_ok(), "{first}");
            assert!(err.contains(fragment), "{file}: {err}");
        }
    }
}

#[test]
fn a_missing_file_exits_2() {
    let o = twin(&["run", "no/such/scenario.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read scenario file no/such/scenario.toml"));
}

#[test]
fn bad_flags_exit_2() {
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--broker",
        "http://x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("mqtt://host:port"));
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--speed",
        "fast",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn an_unreachable_broker_exits_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("mqtt://127.0.0.1:{port}");
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--broker",
        &url,
        "--connect-timeout",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
}

#[test]
fn run_writes_the_report_contract() {
    let dir = std::env::temp_dir().join(format!("twin-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--duration",
        "2m",
        "--speed",
        "max",
        "--seed",
        "9",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("0 lost"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for key in [
        "tool",
        "version",
        "command",
        "scenario",
        "seed",
        "sim_seconds",
        "wall_seconds",
        "broker",
        "devices",
        "messages",
        "latency_ms",
        "alerts",
        "per_device",
    ] {
        assert!(v.get(key).is_some(), "report has {key}");
    }
    assert_eq!(v["tool"], "twin");
    assert_eq!(v["command"], "run");
    assert_eq!(v["seed"], 9);
    assert_eq!(v["sim_seconds"], 120.0);
    assert_eq!(v["broker"]["embedded"], true);
    for key in [
        "sent",
        "received",
        "lost",
        "duplicates",
        "out_of_order",
        "dropped_at_source",
        "malformed",
    ] {
        assert!(v["messages"][key].is_u64(), "messages.{key}");
    }
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_ms"][key].is_f64(), "latency_ms.{key}");
    }
    assert_eq!(v["devices"]["seen"], v["devices"]["total"]);
    assert_eq!(v["messages"]["lost"], 0);
    let first = &v["per_device"][0];
    for key in ["id", "model", "received", "lost", "readings"] {
        assert!(first.get(key).is_some(), "per_device[].{key}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fail_on_miss_exits_3_when_recall_is_below_the_bar() {
    // Half an hour of the faults example, fast: faults are injected and graded either way.
    let base = [
        "run",
        "scenarios/examples/faults.toml",
        "--duration",
        "30m",
        "--speed",
        "3600",
        "--quiet",
    ];
    let o = twin(&base);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // No detector reaches a recall above 1, so this bar always fails.
    let mut strict = base.to_vec();
    strict.extend(["--fail-on-miss", "1.01"]);
    let o = twin(&strict);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("recall below it"), "{}", stderr(&o));
}

#[test]
fn load_pub_writes_its_report() {
    let dir = std::env::temp_dir().join(format!("twin-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("load.json");
    let o = twin(&[
        "load",
        "pub",
        "-c",
        "5",
        "--rate",
        "100",
        "--duration",
        "1s",
        "-q",
        "1",
        "-s",
        "100",
        "--json",
        json.to_str().unwrap(),
        "--fail-on-loss",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("100 sent, 100 received, 0 lost"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["command"], "load pub");
    assert_eq!(v["messages"]["sent"], 100);
    assert_eq!(v["messages"]["lost"], 0);
    for key in ["p50", "p90", "p99", "p999", "max"] {
        assert!(v["latency_ms"][key].is_f64(), "latency_ms.{key}");
        assert!(
            v["latency_intended_ms"][key].is_f64(),
            "latency_intended_ms.{key}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    let o = twin(&["load", "pub", "-q", "3"]);
    assert_eq!(o.status.code(), Some(2));
}
