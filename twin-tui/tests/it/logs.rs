//! What the log says of bad input: a flood of junk is a few warnings and one summary
//! line, and while the terminal UI owns the screen warnings go to a log file, named
//! when the UI closes (run under a pseudo-terminal, `script`).

use sim_core::test_support::Mosquitto;
use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
[scenario]
name = "tuilog"
duration = "10m"
tick = "100ms"
speed = 1

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 2
model = "dht22"
environment = "room"
publish_every = "2s"
"#;

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let path = format!("/proc/{pid}/task/{pid}/children");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn the_tui_logs_to_a_file_and_names_it_when_it_closes() {
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").unwrap();
    let junk = Command::new("mosquitto_pub")
        .args(["-p", &m.addr.port().to_string(), "-r", "-q", "1"])
        .args(["-t", "twin/tuilog/dht-1/telemetry", "-m", "not json"])
        .status()
        .expect("mosquitto_pub runs");
    assert!(junk.success());
    let dir = std::env::temp_dir().join(format!("twin-tui-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("tuilog.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let log = dir.join("ui.log");
    let _ = std::fs::remove_file(&log);
    let inner = format!(
        "stty cols 100 rows 30; exec {} tui {} --broker {}",
        env!("CARGO_BIN_EXE_twin"),
        scenario.display(),
        m.url()
    );
    let mut script = Command::new("script")
        .args(["-qfec", &inner, "/dev/null"])
        .env("TWIN_LOG_FILE", &log)
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script runs");
    let mut pty = script.stdout.take().unwrap();
    let shown = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let into = shown.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pty.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // Both devices say `online` once their sessions are up and the run under way.
    let online = Command::new("mosquitto_sub")
        .args(["-p", &m.addr.port().to_string(), "-C", "2", "-W", "60"])
        .args(["-t", "twin/tuilog/+/status"])
        .output()
        .expect("mosquitto_sub runs");
    assert_eq!(String::from_utf8_lossy(&online.stdout), "online\nonline\n");
    // The retained junk reached the ingest when it subscribed, before the sessions.
    let deadline = Instant::now() + Duration::from_secs(30);
    let logged = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("not counted: malformed payloads") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let twin = children(script.id());
    assert_eq!(twin.len(), 1, "script runs twin; log: {logged}");
    let _ = Command::new("kill")
        .args(["-TERM", &twin[0].to_string()])
        .status();
    let status = script.wait().unwrap();
    reader.join().unwrap();
    let screen = shown.lock().unwrap().clone();
    assert!(
        logged.contains("not counted: malformed payloads"),
        "log file: {logged}"
    );
    assert!(logged.contains("twin/tuilog/dht-1/telemetry"), "{logged}");
    assert!(
        !screen.contains("not counted: malformed"),
        "a warning reached the screen"
    );
    assert!(
        screen.contains("written to"),
        "the log file is not named: {screen}"
    );
    assert!(screen.contains(&log.display().to_string()), "{screen}");
    assert_eq!(status.code(), Some(130), "{screen}");
    let _ = std::fs::remove_dir_all(&dir);
}

const FLOOD_SCENARIO: &str = r#"
[scenario]
name = "flood"
duration = "8s"
tick = "100ms"
speed = 1

[[environment]]
name = "room"

[[devices]]
id = "dht-{n}"
count = 2
model = "dht22"
environment = "room"
publish_every = "2s"
"#;

#[test]
fn a_flood_of_junk_is_a_few_warnings_and_one_line_of_the_rest() {
    if !Mosquitto::wanted() {
        return;
    }
    const FLOOD: usize = 2000;
    let m = Mosquitto::start("").unwrap();
    let port = m.addr.port().to_string();
    // Retained: the ingest gets it as it subscribes, and its warning says it is up.
    let junk = Command::new("mosquitto_pub")
        .args(["-p", &port, "-r", "-q", "1"])
        .args(["-t", "twin/flood/dht-1/telemetry", "-m", "not json"])
        .status()
        .expect("mosquitto_pub runs");
    assert!(junk.success());
    let dir = std::env::temp_dir().join(format!("twin-flood-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("flood.toml");
    std::fs::write(&scenario, FLOOD_SCENARIO).unwrap();
    let mut twin = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "run",
            "--quiet",
            &scenario.to_string_lossy(),
            "--broker",
            &m.url(),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("twin runs");
    let (up_tx, up_rx) = std::sync::mpsc::channel();
    let stderr = std::io::BufReader::new(twin.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in stderr.lines().map_while(Result::ok) {
            if line.contains("not counted") {
                let _ = up_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    up_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the retained junk is warned of within 30 s");
    let mut flood = Command::new("mosquitto_pub")
        .args([
            "-p",
            &port,
            "-q",
            "1",
            "-l",
            "-t",
            "twin/flood/dht-2/telemetry",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub runs");
    let body = "junk\n".repeat(FLOOD);
    flood
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    assert!(flood.wait().unwrap().success());
    let status = twin.wait().unwrap();
    let lines = reader.join().unwrap();
    let warned = lines.iter().filter(|l| l.contains("not counted")).count();
    let summary: Vec<&String> = lines
        .iter()
        .filter(|l| {
            l.contains(" more malformed payloads on twin/flood/+/telemetry in the last 10 s")
        })
        .collect();
    assert_eq!(status.code(), Some(0), "{lines:?}");
    assert_eq!(warned, sim_core::warn_limit::BURST as usize, "{lines:?}");
    assert_eq!(summary.len(), 1, "{lines:?}");
    let said = FLOOD + 1 - warned;
    assert!(
        summary[0].contains(&format!("{said} more")),
        "{}",
        summary[0]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_tui_without_a_terminal_says_so_and_exits_2() {
    for args in [
        &["tui", "scenarios/examples/quickstart.toml"][..],
        &["tui", "--attach", "--broker", "mqtt://127.0.0.1:1"][..],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_twin"))
            .args(args)
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdin(Stdio::null())
            .output()
            .expect("twin runs");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("twin tui needs a terminal"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
