//! The `twin` binary as a user runs it: exit codes, errors, the JSON report contract.

mod connect;
mod credentials;
mod exits;
mod gate;
mod logs;
mod mirror;
mod record;
mod schemas;
mod shard;
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
    crate::schemas::assert_valid("run", &v);
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
fn load_pub_writes_its_report_interval_csv_and_hdr_log() {
    let dir = std::env::temp_dir().join(format!("twin-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, csv, hlog) = (dir.join("load.json"), dir.join("i.csv"), dir.join("i.hlog"));
    let o = twin(&[
        "load",
        "pub",
        "-c",
        "5",
        "--rate",
        "100",
        "--duration",
        "2500ms",
        "-q",
        "1",
        "-s",
        "100",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        "--hdr-log",
        hlog.to_str().unwrap(),
        "--fail-on-loss",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("250 sent, 250 received, 0 lost"), "{out}");
    // Interval lines on stderr, emqtt-bench style.
    assert!(stderr(&o).contains("acked"), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    crate::schemas::assert_valid("load-pub", &v);
    assert_eq!(v["command"], "load pub");
    assert_eq!(v["messages"]["sent"], 250);
    assert_eq!(v["messages"]["lost"], 0);
    assert_eq!(v["acked"], 250);
    for key in ["p50", "p90", "p99", "p999", "max"] {
        for section in ["latency_ms", "latency_intended_ms", "ack_ms", "connect_ms"] {
            assert!(v[section][key].is_f64(), "{section}.{key}");
        }
    }
    // The CSV has a header and one row per elapsed second; no row counts more than all.
    let text = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows[0].starts_with("t_s,interval_s,sent,received,acked"),
        "{text}"
    );
    assert!(rows.len() >= 3, "{text}");
    let received: u64 = rows[1..]
        .iter()
        .map(|r| r.split(',').nth(3).unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(received > 0 && received <= 250, "{text}");
    // The HDR log parses with the HdrHistogram log reader, and its intervals hold as
    // many samples as the CSV rows counted.
    let log = std::fs::read(&hlog).unwrap();
    let mut samples = 0;
    let mut intervals = 0;
    for item in hdrhistogram::serialization::interval_log::IntervalLogIterator::new(&log) {
        if let hdrhistogram::serialization::interval_log::LogEntry::Interval(h) = item.unwrap() {
            let bytes = base64_decode(h.encoded_histogram());
            let hist: hdrhistogram::Histogram<u64> =
                hdrhistogram::serialization::Deserializer::new()
                    .deserialize(&mut bytes.as_slice())
                    .unwrap();
            samples += hist.len();
            intervals += 1;
        }
    }
    assert_eq!(intervals, rows.len() - 1);
    assert_eq!(samples, received);
    std::fs::remove_dir_all(&dir).unwrap();
    let o = twin(&["load", "pub", "-q", "3"]);
    assert_eq!(o.status.code(), Some(2));
    let o = twin(&["load", "pub", "--shard", "4/4"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn load_scenario_drives_a_fleet_as_the_load_with_a_line_a_second() {
    let dir = std::env::temp_dir().join(format!("twin-load-sc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let o = twin(&[
        "load",
        "scenarios/examples/smart-home.toml",
        "--duration",
        "60s",
        "--speed",
        "20",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("recv") && err.contains("conn 22/22"), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    crate::schemas::assert_valid("run", &v);
    assert_eq!(v["command"], "load");
    assert_eq!(v["devices"]["seen"], 22);
    assert_eq!(v["messages"]["lost"], 0);
    assert!(
        v["messages"]["received"].as_u64().unwrap() > 20,
        "{}",
        v["messages"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let o = twin(&["load", "scenarios/examples/quickstart.toml", "--tui"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn load_pub_json_payloads_stay_json_and_are_counted() {
    let dir = std::env::temp_dir().join(format!("twin-load-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let o = twin(&[
        "load",
        "pub",
        "-c",
        "3",
        "-I",
        "50ms",
        "--count",
        "10",
        "--payload",
        r#"{"device": "dev-%i", "temperature": 21.5}"#,
        "--json",
        json.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    crate::schemas::assert_valid("load-pub", &v);
    assert_eq!(v["messages"]["sent"], 30);
    assert_eq!(v["messages"]["received"], 30);
    assert_eq!(v["messages"]["malformed"], 0);
    // The bytes sent, not the template's size: each payload carries its "twl" member.
    let bytes = v["payload_bytes_sent"]
        .as_u64()
        .expect("payload_bytes_sent");
    let template = v["size"].as_u64().expect("size");
    assert!(
        bytes > 30 * (template + 20) && bytes < 30 * (template + 100),
        "{bytes}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("B a message ({bytes} B sent)")),
        "{out}"
    );
    // Not JSON, or not an object: bad input.
    for bad in ["{not json", "[1, 2]"] {
        let o = twin(&["load", "pub", "--payload", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", stderr(&o));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_pub_stopped_by_sigterm_still_writes_its_report() {
    load_pub_stops_on("TERM");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("the HDR log holds base64")
}

#[test]
fn four_shard_processes_merge_to_the_totals_of_one_run() {
    let broker = sim_core::transport::broker::EmbeddedBroker::start(256).unwrap();
    let url = broker.url();
    let dir = std::env::temp_dir().join(format!("twin-shards-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let common = |json: &std::path::Path| -> Vec<String> {
        [
            "load", "pub", "-c", "40", "-I", "50ms", "--count", "20", "-q", "1", "--broker", &url,
            "--quiet", "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([json.to_str().unwrap().to_string()])
        .collect()
    };
    let whole = dir.join("whole.json");
    let o = twin(
        &common(&whole)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Four shard processes at once on the same broker.
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut args = common(&dir.join(format!("s{i}.json")));
            args.extend(["--shard".to_string(), format!("{i}/4")]);
            Command::new(env!("CARGO_BIN_EXE_twin"))
                .args(&args)
                .current_dir(repo())
                .output_async()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let merged = dir.join("merged.json");
    let mut args = vec!["report", "merge", "--json", merged.to_str().unwrap()];
    let shard_files: Vec<String> = (0..4)
        .map(|i| dir.join(format!("s{i}.json")).to_str().unwrap().to_string())
        .collect();
    args.extend(shard_files.iter().map(String::as_str));
    let o = twin(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |p: &std::path::Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    let (w, m) = (read(&whole), read(&merged));
    crate::schemas::assert_valid("load-pub", &w);
    crate::schemas::assert_valid("load-pub", &m);
    assert_eq!(w["messages"]["sent"], 800);
    assert_eq!(m["messages"], w["messages"]);
    assert_eq!(m["clients"], 40);
    assert_eq!(m["acked"], 800);
    assert_eq!(m["merged"], 4);
    assert_eq!(m["latency_ms"]["count"], 800);
    // A file that is not a load report is bad input.
    let o = twin(&["report", "merge", "scenarios/examples/quickstart.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn load_conn_binds_its_source_ip_and_its_shard_reports_merge() {
    let server = sim_core::test_support::ConnackServer::start(0).unwrap();
    let url = server.url();
    let dir = std::env::temp_dir().join(format!("twin-conn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let (whole, s0, s1, merged) = (
        json("whole.json"),
        json("s0.json"),
        json("s1.json"),
        json("merged.json"),
    );
    let base = [
        "load",
        "conn",
        "-c",
        "12",
        "--ramp",
        "1000",
        "--hold",
        "1500ms",
        "--source-ip",
        "127.0.0.2",
        "--keep-alive",
        "20s",
        "--broker",
        &url,
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let args = with(&["--json", &whole]);
    let o = twin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("12 of 12 connected, 0 failed"), "{out}");
    assert!(out.contains("rss per session"), "{out}");
    // A progress line each second while holding.
    let err = stderr(&o);
    assert!(
        err.lines()
            .any(|l| l.contains("connected      12") && l.contains("held      12")),
        "{err}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&whole).unwrap()).unwrap();
    crate::schemas::assert_valid("load-conn", &v);
    assert_eq!(v["command"], "load conn");
    assert_eq!(
        (v["connected"].as_u64(), v["held"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(
        (v["failed"].as_u64(), v["refused"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(
        v["rss_kib"].is_u64() && v["rss_per_session_kib"].is_f64(),
        "{v}"
    );
    assert!(v["histograms"]["connect"].is_string());
    assert_eq!(v["connect_ms"]["count"], 12);
    let seen = server.connects();
    assert_eq!(seen.len(), 12);
    assert!(
        seen.iter()
            .all(|c| c.peer.ip().to_string() == "127.0.0.2" && c.keep_alive == 20),
        "{seen:?}"
    );
    // Two shards, the second through TWIN_SHARD, then merged.
    let args = with(&["--shard", "0/2", "--quiet", "--json", &s0]);
    let o = twin(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("held"), "--quiet: {}", stderr(&o));
    let args = with(&["--json", &s1]);
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(&args)
        .env("TWIN_SHARD", "1/2")
        .output_async()
        .wait_with_output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let o = twin(&["report", "merge", "--json", &merged, &s0, &s1]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("12 of 12 connected"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    crate::schemas::assert_valid("load-conn", &m);
    assert_eq!(m["command"], "load conn");
    assert_eq!(
        (m["merged"].as_u64(), m["clients"].as_u64()),
        (Some(2), Some(12))
    );
    assert_eq!(
        (m["connected"].as_u64(), m["held"].as_u64()),
        (Some(12), Some(12))
    );
    assert_eq!(m["connect_ms"]["count"], 12);
    assert!(m.get("shard").is_none());
    // 12 + 6 + 6 sessions, each with its own global index once per run.
    assert_eq!(server.connects().len(), 24);
    // A conn report does not merge with a pub report; bad source IPs are bad input.
    let pub_report = json("pub.json");
    std::fs::write(&pub_report, r#"{"command":"load pub"}"#).unwrap();
    let o = twin(&["report", "merge", &s0, &pub_report]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot merge"), "{}", stderr(&o));
    let o = twin(&[
        "load",
        "conn",
        "--source-ip",
        "127.0.0.2,nonsense",
        "--broker",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = twin(&[
        "load",
        "conn",
        "--source-ip",
        "192.0.2.77",
        "--broker",
        &url,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot be bound"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

trait SpawnOutput {
    fn output_async(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn output_async(&mut self) -> std::process::Child {
        self.env_remove("TWIN_BROKER")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("twin starts")
    }
}

/// `twin load pub` stopped by `signal` mid-run: exit 130 within a second of the signal,
/// and the report, marked interrupted with the time it really ran, counts every message
/// it sent as received.
fn load_pub_stops_on(signal: &str) {
    let started = std::time::Instant::now();
    let (code, v, stopping) = stopped_by_timed(
        signal,
        &[
            "load",
            "pub",
            "-c",
            "5",
            "--rate",
            "100",
            "--duration",
            "60s",
        ],
        &format!("load-{signal}"),
    );
    assert_eq!(code, Some(130));
    assert!(stopping < std::time::Duration::from_secs(1), "{stopping:?}");
    assert_eq!(v["interrupted"], true);
    let wall = v["wall_seconds"].as_f64().expect("wall_seconds");
    assert!(
        wall > 0.5 && wall <= started.elapsed().as_secs_f64(),
        "{wall} s of a 60 s load stopped after its first second"
    );
    let sent = v["messages"]["sent"].as_u64().expect("messages.sent");
    assert!(sent > 0 && sent < 6000, "{sent}");
    assert_eq!(v["messages"]["received"].as_u64(), Some(sent));
}

/// Start `twin ARGS --json FILE`, wait (bounded) for its first progress line on stderr,
/// send `signal`, and return its exit code and report.
fn stopped_by(signal: &str, args: &[&str], name: &str) -> (Option<i32>, serde_json::Value) {
    let (code, report, _) = stopped_by_timed(signal, args, name);
    (code, report)
}

/// As [`stopped_by`], with the time from the signal to the process's end.
#[expect(
    clippy::unwrap_used,
    reason = "a test helper: a failure panics, as it would in the test itself"
)]
fn stopped_by_timed(
    signal: &str,
    args: &[&str],
    name: &str,
) -> (Option<i32>, serde_json::Value, std::time::Duration) {
    use std::io::BufRead as _;
    let dir = std::env::temp_dir().join(format!("twin-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .current_dir(repo())
        .env_remove("TWIN_BROKER")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("a progress line within 30 s");
    assert!(line.contains("sent"), "{line}");
    let st = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let signalled = std::time::Instant::now();
    let deadline = signalled + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "twin {args:?} did not stop on SIG{signal}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let stopping = signalled.elapsed();
    let report = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (status.code(), report, stopping)
}

#[test]
fn a_hangup_stops_a_load_and_a_run_with_their_reports_written() {
    // A dropped SSH session sends SIGHUP: it must not lose the run.
    load_pub_stops_on("HUP");
    let (code, v) = stopped_by(
        "HUP",
        &["load", "scenarios/examples/quickstart.toml"],
        "hup-run",
    );
    assert_eq!(code, Some(130));
    assert_eq!(v["command"], "load");
    assert_eq!(v["scenario"], "quickstart");
    assert_eq!(v["devices"]["total"], 10);
}

#[test]
fn load_pub_stops_with_the_brokers_reason_and_exit_1() {
    use sim_core::test_support::{Answers, ConnackServer};
    let answers = Answers {
        suback: Some(1),
        publish: true,
        ..Answers::default()
    };
    // A broker without shared subscriptions: --subscribers 2 is refused before anything
    // is subscribed or published, with the reason.
    let no_share = ConnackServer::start_answering(
        vec![0x20, 0x05, 0x00, 0x00, 0x02, 0x2A, 0x00],
        answers.clone(),
    )
    .unwrap();
    let o = twin(&[
        "load",
        "pub",
        "--mqtt-version",
        "5",
        "-c",
        "2",
        "--count",
        "3",
        "--subscribers",
        "2",
        "--broker",
        &no_share.url(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("does not support shared subscriptions"),
        "{}",
        stderr(&o)
    );
    assert!(no_share.subscribes().is_empty());
    // A broker that kicks every publish with "QoS not supported": the run ends with that
    // reason, exit 1, and the summary's reasons line names it.
    let kicker = ConnackServer::start_answering(
        vec![0x20, 0x03, 0x00, 0x00, 0x00],
        Answers {
            kick_on_publish: Some(vec![0xE0, 0x01, 0x9B]),
            ..answers
        },
    )
    .unwrap();
    let o = twin(&[
        "load",
        "pub",
        "--mqtt-version",
        "5",
        "-c",
        "1",
        "--count",
        "20",
        "-I",
        "10ms",
        "--broker",
        &kicker.url(),
        "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("reasons   DISCONNECT 0x9b QoS not supported x3"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("0x9b (QoS not supported) 3 times"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn load_pub_says_when_the_broker_holds_it_back() {
    use sim_core::test_support::Mosquitto;
    use std::io::BufRead as _;
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").expect("mosquitto");
    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "load",
            "pub",
            "-c",
            "2",
            "--rate",
            "200",
            "--duration",
            "8s",
        ])
        .args(["--drain", "1s", "--broker", &m.url()])
        .current_dir(repo())
        .env_remove("TWIN_BROKER")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("twin starts");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let first = lines.next().expect("an interval line").expect("text");
    assert!(first.contains("sent"), "{first}");
    assert!(!first.contains("behind schedule"), "{first}");
    // The broker stops reading: the publishers' windows fill and their schedule waits.
    m.signal("STOP").expect("SIGSTOP");
    let mut seen = Vec::new();
    let held = loop {
        let Some(Ok(line)) = lines.next() else {
            break None;
        };
        seen.push(line.clone());
        if line.contains("behind schedule") {
            break Some(line);
        }
        assert!(seen.len() < 6, "no back-pressure line: {seen:#?}");
    };
    m.signal("CONT").expect("SIGCONT");
    let held = held.unwrap_or_else(|| panic!("no back-pressure line: {seen:#?}"));
    assert!(held.contains("back-pressure"), "{held}");
    let lag: f64 = held
        .split("lag ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("a lag figure");
    assert!(lag >= 1000.0, "{held}");
    let status = child.wait().expect("twin ends");
    assert!(status.code().is_some(), "{status:?}");
}

#[test]
fn each_command_lists_only_its_own_flags_and_a_short_flag_means_one_thing() {
    let help = |args: &[&str]| {
        let o = twin(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    // --attach and --topic are the terminal UI's; --tui is `twin run`'s.
    let run = help(&["run", "--help"]);
    for flag in ["--attach", "--topic"] {
        assert!(!run.contains(flag), "twin run --help lists {flag}");
    }
    let load = help(&["load", "--help"]);
    for flag in ["--attach", "--topic", "--tui"] {
        assert!(!load.contains(flag), "twin load --help lists {flag}");
    }
    let tui = help(&["tui", "--help"]);
    assert!(tui.contains("--attach") && tui.contains("--topic"), "{tui}");
    // Every key the UI's help overlay lists is in `twin tui --help`.
    for (key, what) in twin_tui::tui::view::KEYS {
        assert!(
            tui.contains(&format!("{key:<10} {what}")),
            "twin tui --help misses the key {key}"
        );
    }
    // -q is --qos wherever it exists, never --quiet.
    for args in [
        &["run", "--help"][..],
        &["tui", "--help"],
        &["load", "--help"],
        &["load", "pub", "--help"],
        &["load", "sub", "--help"],
        &["load", "conn", "--help"],
        &["mirror", "--help"],
        &["check", "--help"],
    ] {
        let text = help(args);
        for line in text.lines().filter(|l| l.trim_start().starts_with("-q,")) {
            assert!(line.contains("--qos"), "{args:?}: {line}");
        }
        assert!(!text.contains("-q, --quiet"), "{args:?}");
    }
    let o = twin(&["run", "-q", "scenarios/examples/quickstart.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn check_speaks_the_scenarios_words_for_every_example() {
    let mut examples: Vec<_> = std::fs::read_dir(repo().join("scenarios/examples"))
        .expect("the examples")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 5, "{examples:?}");
    for path in &examples {
        let o = twin(&["check", path.to_str().expect("a UTF-8 path")]);
        assert!(o.status.success(), "{path:?}: {}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        // No Rust Debug text: no struct braces, no tuple lists.
        for debug in ["{ ", "([", "Some(", "None"] {
            assert!(!out.contains(debug), "{path:?} shows {debug:?}:\n{out}");
        }
        for section in ["\nfaults ", "\nrules ", "\nevents "] {
            assert!(out.contains(section), "{path:?} has no{section:?}:\n{out}");
        }
        assert!(!out.contains("0.0 msg"), "{path:?}:\n{out}");
    }
    let faults =
        String::from_utf8_lossy(&twin(&["check", "scenarios/examples/faults.toml"]).stdout)
            .to_string();
    assert!(faults.contains("faults 10"), "{faults}");
    assert!(
        faults.contains("node-{n}             spike on temperature, magnitude 8, 0.5 per hour"),
        "{faults}"
    );
    assert!(
        faults.contains("at 3h         fault battery_death on 1 device: node-20"),
        "{faults}"
    );
    // Twenty rooms alike are one line.
    assert!(
        faults.contains("room-1 .. room-20 (20) start 19.0 °C"),
        "{faults}"
    );
    let quick =
        String::from_utf8_lossy(&twin(&["check", "scenarios/examples/quickstart.toml"]).stdout)
            .to_string();
    assert!(quick.contains("expected 52 msg per sim minute"), "{quick}");
    assert!(quick.contains("sessions 10, one per device"), "{quick}");
    let hubs = twin(&["check", "--json", "scenarios/examples/gateways-100k.toml"]);
    let hubs: serde_json::Value = serde_json::from_slice(&hubs.stdout).expect("JSON");
    assert_eq!(
        (hubs["gateways"].as_u64(), hubs["sessions"].as_u64()),
        (Some(200), Some(200))
    );
    let hubs =
        String::from_utf8_lossy(&twin(&["check", "scenarios/examples/gateways-100k.toml"]).stdout)
            .to_string();
    assert!(
        hubs.contains("sessions 200: 200 gateways holding 100000 devices"),
        "{hubs}"
    );
    assert!(
        quick.contains("at 5m         set on=true on 1 device: relay-1"),
        "{quick}"
    );

    // A rule, in its own words.
    let dir = std::env::temp_dir().join(format!("twin-check-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("rules.toml");
    let text = std::fs::read_to_string(repo().join("scenarios/examples/quickstart.toml"))
        .expect("quickstart")
        + "\n[[rules]]\nsensor = \"temperature\"\ntarget = \"dht-*\"\nabove = 30.0\nbelow = 5.0\n";
    std::fs::write(&file, text).expect("written");
    let o = twin(&["check", file.to_str().expect("a UTF-8 path")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("rules 1\n  temperature above 30 below 5, "),
        "{out}"
    );
    assert!(
        out.contains(" on 4 devices: dht-1, dht-2, dht-3 and 1 more"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[test]
fn load_sub_lines_show_only_what_a_subscriber_has() {
    let o = twin(&["load", "sub", "-c", "2", "--duration", "2s"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("recv")).collect();
    assert!(!lines.is_empty(), "{err}");
    for l in &lines {
        assert!(l.contains("subscribed 2"), "{l}");
        for publisher_only in ["sent", "acked", "in flight", "lag"] {
            assert!(!l.contains(publisher_only), "{l}");
        }
    }
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("(summed over the 2 subscribers, each counting its own)"),
        "{out}"
    );
}

#[test]
fn a_rate_the_schedule_cannot_keep_is_refused_with_the_reason() {
    let t0 = std::time::Instant::now();
    let o = twin(&["load", "pub", "--rate", "1e12", "--duration", "2s"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .contains("shorter than the schedule's 1 µs; at most 10000000 msg/s over 10 devices"),
        "{}",
        stderr(&o)
    );
    // Refused before anything runs, not after a backlog.
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn a_shorter_duration_says_what_it_cuts_away() {
    let dir = std::env::temp_dir().join(format!("twin-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("cut.toml");
    let text = std::fs::read_to_string(repo().join("scenarios/examples/quickstart.toml"))
        .expect("quickstart")
        + "\n[[events]]\nat = \"1m\"\ntarget = \"dht-1\"\naction = \"fault\"\n\
           fault = { kind = \"stuck\", sensor = \"temperature\", duration = \"5m\" }\n";
    std::fs::write(&file, text).expect("written");
    let json = dir.join("r.json");
    let o = twin(&[
        "run",
        file.to_str().expect("a UTF-8 path"),
        "--duration",
        "3m",
        "--speed",
        "max",
        "--quiet",
        "--json",
        json.to_str().expect("a UTF-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let event = "--duration 3m leaves out the event at 5m: set on=true on 1 device: relay-1";
    let fault = "--duration 3m ends the fault at 1m early, after 2m of 5m: fault stuck on temperature, for 5m on 1 device: dht-1";
    let err = stderr(&o);
    assert!(err.contains(&format!("warning: {event}")), "{err}");
    assert!(err.contains(&format!("warning: {fault}")), "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the report")).expect("JSON");
    crate::schemas::assert_valid("run", &v);
    assert_eq!(v["cut_by_duration"], serde_json::json!([fault, event]));
    // Without --duration, nothing is cut and the key is absent.
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--speed",
        "max",
        "--quiet",
        "--json",
        json.to_str().expect("a UTF-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("warning: --duration"),
        "{}",
        stderr(&o)
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("the report")).expect("JSON");
    assert!(v.get("cut_by_duration").is_none(), "{v}");
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}
