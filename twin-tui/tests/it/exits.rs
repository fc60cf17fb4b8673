//! The terminal UI's exit codes, under a pseudo-terminal (`script`): `q` ends it with 0,
//! SIGINT, SIGTERM and SIGHUP with 130, the terminal restored each time; the same for
//! a view attached to a running fleet, which says it is read-only.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
[scenario]
name = "exitcodes"
duration = "1h"
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

/// `twin tui` on the embedded broker under `script`, with what it drew so far.
struct Ui {
    script: Child,
    shown: Arc<Mutex<String>>,
}

impl Ui {
    /// Start it, its report to go to `json`.
    fn start(scenario: &std::path::Path, json: &std::path::Path) -> Ui {
        let _ = std::fs::remove_file(json);
        let args = format!("{} --json {}", scenario.display(), json.display());
        Ui::launch(&args, "dht-1")
    }

    /// `twin tui ARGS` under `script`, once `ready` is on the screen.
    fn launch(args: &str, ready: &str) -> Ui {
        let inner = format!(
            "stty cols 100 rows 30; exec {} tui {args}",
            env!("CARGO_BIN_EXE_twin"),
        );
        let mut script = Command::new("script")
            .args(["-qfec", &inner, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("TWIN_BROKER")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("script runs");
        let mut pty = script.stdout.take().expect("its output");
        let shown = Arc::new(Mutex::new(String::new()));
        let into = shown.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pty.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = into.lock() {
                    s.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let ui = Ui { script, shown };
        // On screen: the run (or the view) is under way.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ui.screen().contains(ready) {
            assert!(Instant::now() < deadline, "no UI: {}", ui.screen());
            std::thread::sleep(Duration::from_millis(50));
        }
        ui
    }

    fn screen(&self) -> String {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The `twin` process `script` runs.
    fn twin_pid(&self) -> u32 {
        let id = self.script.id();
        let kids =
            std::fs::read_to_string(format!("/proc/{id}/task/{id}/children")).unwrap_or_default();
        let pids: Vec<u32> = kids
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        assert_eq!(pids.len(), 1, "script runs twin: {pids:?}");
        pids[0]
    }

    /// Its exit code, waited for (bounded), and whether the terminal was restored (the
    /// alternate screen left).
    fn exit(mut self) -> (Option<i32>, bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(s) = self.script.try_wait().expect("waiting") {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "the UI did not end: {}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        (status.code(), self.screen().contains("\x1b[?1049l"))
    }
}

#[test]
fn the_tui_quits_0_on_q_and_130_on_each_signal() {
    let dir = std::env::temp_dir().join(format!("twin-tui-exits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let scenario = dir.join("exitcodes.toml");
    std::fs::write(&scenario, SCENARIO).expect("written");

    let json = dir.join("r.json");
    let report = || -> serde_json::Value {
        let text = std::fs::read_to_string(&json).expect("the report is written");
        serde_json::from_str(&text).expect("a JSON report")
    };
    let mut ui = Ui::start(&scenario, &json);
    let keys = ui.script.stdin.as_mut().expect("its input");
    keys.write_all(b"q").expect("q typed");
    keys.flush().expect("flushed");
    let (code, restored) = ui.exit();
    assert_eq!(code, Some(0), "q");
    assert!(restored, "q left the terminal in the UI's screen");
    assert_eq!(report()["scenario"], "exitcodes");

    for signal in ["INT", "TERM", "HUP"] {
        let ui = Ui::start(&scenario, &json);
        let st = Command::new("kill")
            .args([&format!("-{signal}"), &ui.twin_pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(st.success());
        let (code, restored) = ui.exit();
        assert_eq!(code, Some(130), "SIG{signal}");
        assert!(restored, "SIG{signal} left the terminal in the UI's screen");
        assert_eq!(report()["interrupted"], true, "SIG{signal}");
    }
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[test]
fn an_attached_view_quits_0_on_q_and_130_on_a_signal_and_says_it_is_read_only() {
    use sim_core::test_support::Mosquitto;
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").expect("mosquitto");
    let args = format!("--attach --broker {}", m.url());
    let mut ui = Ui::launch(&args, "attached");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ui.screen().contains("read-only") {
        assert!(
            Instant::now() < deadline,
            "no read-only mark: {}",
            ui.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let keys = ui.script.stdin.as_mut().expect("its input");
    keys.write_all(b"q").expect("q typed");
    keys.flush().expect("flushed");
    let (code, restored) = ui.exit();
    assert_eq!((code, restored), (Some(0), true), "q");

    let ui = Ui::launch(&args, "attached");
    let st = Command::new("kill")
        .args(["-TERM", &ui.twin_pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(st.success());
    let (code, restored) = ui.exit();
    assert_eq!((code, restored), (Some(130), true), "SIGTERM");
}
