//! `twin record` and `twin replay` against two Mosquitto processes, with Mosquitto's
//! own clients as the independent publisher and subscriber: a recording of text, binary
//! and retained messages replayed ten times as fast onto another broker arrives whole,
//! per topic in its order, byte for byte, with its topics rewritten.

use crate::{repo, stderr};
use sim_core::test_support::Mosquitto;
use std::io::{BufRead as _, Write as _};
use std::process::{Command, Stdio};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-record-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Publish one message on `m` with `mosquitto_pub`, the payload from stdin.
fn publish(m: &Mosquitto, topic: &str, payload: &[u8], retain: bool) {
    let port = m.addr.port().to_string();
    let mut args = vec!["-p", &port, "-t", topic, "-q", "1", "-s"];
    if retain {
        args.push("-r");
    }
    let mut c = Command::new("mosquitto_pub")
        .args(&args)
        .stdin(Stdio::piped())
        .spawn()
        .expect("mosquitto_pub runs");
    c.stdin
        .take()
        .expect("stdin")
        .write_all(payload)
        .expect("payload written");
    assert!(c.wait().expect("mosquitto_pub ends").success());
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_recording_replays_on_another_broker_whole_in_order_and_byte_for_byte() {
    if !Mosquitto::wanted() {
        return;
    }
    let (a, b) = (
        Mosquitto::start("").expect("mosquitto"),
        Mosquitto::start("").expect("mosquitto"),
    );
    let dir = scratch("replay");
    let file = dir.join("rec.ndjson");
    publish(&a, "rec/state", br#"{"on":true}"#, true);
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "record",
            "--broker",
            &a.url(),
            "-t",
            "rec/#",
            "--count",
            "31",
            "--quiet",
        ])
        .args(["-o", file.to_str().unwrap()])
        .current_dir(repo())
        .env_remove("TWIN_BROKER")
        .spawn()
        .expect("twin record starts");
    // Until the recorder has its 31 (the retained state first, on subscribing), a
    // message every few milliseconds: text, binary, JSON, on three topics.
    let mut i = 0;
    while recorder.try_wait().expect("recorder").is_none() && i < 500 {
        let (topic, payload): (&str, Vec<u8>) = match i % 3 {
            0 => ("rec/text", format!("reading {i}").into_bytes()),
            1 => ("rec/bin", vec![0xff, 0x00, i as u8, 0x80]),
            _ => ("rec/json", format!("{{\"i\":{i}}}").into_bytes()),
        };
        publish(&a, topic, &payload, false);
        i += 1;
    }
    assert!(recorder.wait().expect("recorder ends").success());
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .expect("recording")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 31);
    assert_eq!(
        (lines[0]["topic"].as_str(), lines[0]["retain"].as_bool()),
        (Some("rec/state"), Some(true))
    );
    assert!(
        lines.iter().any(|l| l["binary"] == true),
        "binary payloads are base64"
    );

    // An independent subscriber on the other broker, subscribed before the replay.
    let mut sub = Command::new("mosquitto_sub")
        .args([
            "-p",
            &b.addr.port().to_string(),
            "-t",
            "lab/#",
            "-q",
            "1",
            "-d",
        ])
        .args(["-F", "%t %x", "-W", "60"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub runs");
    let out = std::io::BufReader::new(sub.stdout.take().expect("stdout")).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in out.map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    // Its subscription is known to be in place once a message on it comes through: a
    // probe, published again until one does (at most 50 times).
    let probed = (0..50).any(|_| {
        publish(&b, "lab/probe", b"probe", false);
        let until = std::time::Instant::now() + std::time::Duration::from_millis(300);
        while let Ok(l) =
            rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
        {
            if l.starts_with("lab/probe ") {
                return true;
            }
        }
        false
    });
    assert!(
        probed,
        "the subscriber on the other broker never saw its probe"
    );
    let json = dir.join("replay.json");
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "replay",
            file.to_str().unwrap(),
            "--broker",
            &b.url(),
            "--speed",
            "10",
        ])
        .args([
            "--map",
            "rec/#=lab/#",
            "--quiet",
            "--json",
            json.to_str().unwrap(),
        ])
        .current_dir(repo())
        .env_remove("TWIN_BROKER")
        .output()
        .expect("twin replay runs");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The 31 replayed, after any probe still on its way.
    let mut got: Vec<String> = Vec::new();
    while got.len() < 31 {
        match rx.recv_timeout(std::time::Duration::from_secs(15)) {
            Ok(l) if l.starts_with("lab/") && !l.starts_with("lab/probe ") => got.push(l),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = sub.kill();
    let _ = sub.wait();
    let want: Vec<String> = lines
        .iter()
        .map(|l| {
            let payload = l["payload"].as_str().unwrap();
            let bytes = if l["binary"] == true {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(payload)
                    .unwrap()
            } else {
                payload.as_bytes().to_vec()
            };
            let topic = l["topic"].as_str().unwrap().replacen("rec/", "lab/", 1);
            format!("{topic} {}", hex(&bytes))
        })
        .collect();
    assert_eq!(got, want, "every message, in order, byte for byte");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(
        (
            r["sent"].as_u64(),
            r["acked"].as_u64(),
            r["rewritten"].as_u64()
        ),
        (Some(31), Some(31), Some(31))
    );
    // Ten times as fast, never faster than the recording's timing allows.
    let recorded = r["recorded_seconds"].as_f64().unwrap();
    assert!(
        r["seconds"].as_f64().unwrap() >= recorded / 10.0 - 0.01,
        "{r}"
    );
    // The retained message is retained on the other broker.
    let retained = Command::new("mosquitto_sub")
        .args([
            "-p",
            &b.addr.port().to_string(),
            "-t",
            "lab/state",
            "-C",
            "1",
            "-W",
            "5",
            "-F",
            "%r %p",
        ])
        .output()
        .expect("mosquitto_sub runs");
    assert_eq!(
        String::from_utf8_lossy(&retained.stdout).trim(),
        r#"1 {"on":true}"#
    );
}

#[test]
fn replay_refuses_a_bad_map_speed_or_recording() {
    let dir = scratch("bad");
    let file = dir.join("bad.ndjson");
    std::fs::write(
        &file,
        "{\"t\":1.0,\"topic\":\"a\",\"qos\":0,\"retain\":false,\"payload\":\"x\"}\nnot json\n",
    )
    .unwrap();
    let twin = |args: &[&str]| crate::twin(args);
    let o = twin(&[
        "replay",
        file.to_str().unwrap(),
        "--broker",
        "mqtt://127.0.0.1:1",
        "--map",
        "a/{x}=b/{y}",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("{y} on the right is not on the left"),
        "{}",
        stderr(&o)
    );
    let o = twin(&[
        "replay",
        file.to_str().unwrap(),
        "--broker",
        "mqtt://127.0.0.1:1",
        "--speed",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--speed 0: expected a number above 0 or max"),
        "{}",
        stderr(&o)
    );
    if !Mosquitto::wanted() {
        return;
    }
    let m = Mosquitto::start("").expect("mosquitto");
    let o = twin(&[
        "replay",
        file.to_str().unwrap(),
        "--broker",
        &m.url(),
        "--speed",
        "max",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("recording line 2"), "{}", stderr(&o));
}
