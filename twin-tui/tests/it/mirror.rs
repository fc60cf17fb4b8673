//! `twin mirror` as a user runs it, against a real Mosquitto and emulated devices (a
//! Tasmota plug with a DHT22, a MicroPython-style JSON sensor, an ESPHome node, a Homie
//! device):
//! `--discover` writes a config that `twin mirror` takes as it is, `twin mirror set`
//! reaches the plug and sees `reported` converge, a killed plug goes offline, and SIGTERM
//! still writes the report.

use super::{repo, stderr, twin};
use hw_bridge::MirrorConfig;
use hw_bridge::emulator::{self, Curve};
use sim_core::test_support::Mosquitto;
use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn constant(v: f64) -> Curve {
    Arc::new(move |_| v)
}

#[test]
fn discover_then_mirror_then_set_from_the_command_line() {
    if !Mosquitto::wanted() {
        return;
    }
    let broker = Mosquitto::start("").expect("mosquitto");
    let url = broker.url();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let period = Duration::from_millis(200);
    let plug = emulator::tasmota_plug(&url, "tasmota_plug", period, constant(21.5));
    let pico = emulator::json_sensor(&url, "pico-1", period, constant(20.25));
    let kitchen = emulator::esphome_node(&url, "kitchen", period, constant(22.4));
    let greenhouse = emulator::homie_device(&url, "greenhouse", period, constant(18.75));
    for e in [&plug, &pico, &kitchen, &greenhouse] {
        assert!(
            rt.block_on(e.wait_for(WAIT, |l| l.published >= 2)),
            "emulators publish"
        );
    }

    // Discovery on this setup prints a config `twin mirror` accepts as it is.
    let o = twin(&[
        "mirror",
        "--discover",
        "2s",
        "--broker",
        &url,
        "--fleet",
        "home",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    let cfg = MirrorConfig::parse(&text, "discovered").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut found: Vec<(String, &str)> = cfg
        .devices
        .iter()
        .map(|d| {
            (
                d.id.clone(),
                hw_bridge::adapter::Adapter::new(d.adapter.clone()).name(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![
            ("greenhouse".to_string(), "homie"),
            ("kitchen".to_string(), "esphome"),
            ("pico-1".to_string(), "json"),
            ("tasmota_plug".to_string(), "tasmota"),
        ],
        "{text}"
    );
    let dir = repo().join("target/tmp/mirror-cli");
    std::fs::create_dir_all(&dir).expect("dir");
    let config = dir.join("discovered.toml");
    let report = dir.join("report.json");
    let _ = std::fs::remove_file(&report);
    let recording = dir.join("seen.ndjson");
    std::fs::write(&config, &text).expect("write config");

    let mut child = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "mirror",
            &config.to_string_lossy(),
            "--duration",
            "60s",
            "--json",
            &report.to_string_lossy(),
            "--record",
            &recording.to_string_lossy(),
        ])
        .env_remove("TWIN_BROKER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("twin mirror starts");
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let mut wait_line = |want: &str| {
        if lines.iter().any(|l| l.contains(want)) {
            return;
        }
        let end = std::time::Instant::now() + WAIT;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(l) => {
                    let hit = l.contains(want);
                    lines.push(l);
                    if hit {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {want:?}: {lines:#?}");
    };
    for id in ["tasmota_plug", "pico-1", "kitchen", "greenhouse"] {
        wait_line(&format!("{id}: online"));
    }

    let o = twin(&[
        "mirror",
        "set",
        "tasmota_plug",
        "power=on",
        "--config",
        &config.to_string_lossy(),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("set prints JSON");
    assert_eq!(v["outcome"], "converged", "{v}");
    assert_eq!(v["reported"]["power"], true, "{v}");
    assert!(plug.log().switch_on, "the plug was switched on");
    wait_line("tasmota_plug: power confirmed, delta cleared");
    // Unknown devices are refused before anything is sent.
    let o = twin(&[
        "mirror",
        "set",
        "nobody",
        "power=on",
        "--config",
        &config.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // Let a few more SENSOR messages go out (and so reach the mirror) before the kill.
    let before = plug.log().published;
    assert!(rt.block_on(plug.wait_for(WAIT, |l| l.published >= before + 3)));
    plug.kill();
    wait_line("tasmota_plug: offline");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait().expect("twin mirror exits");
    assert_eq!(out.code(), Some(130), "interrupted, report still written");

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("report written"))
            .expect("json");
    crate::schemas::assert_valid("mirror", &r);
    assert_eq!(r["command"], "mirror");
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["devices"]["total"], 4);
    assert_eq!(r["devices"]["seen"], 4);
    assert_eq!(r["devices"]["online"], 3);
    assert_eq!(
        r["per_device"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["id"] == "greenhouse"))
            .map(|d| d["readings"]["sensor_temperature"]["last"].clone()),
        Some(serde_json::json!(18.75))
    );
    let dev = |id: &str| {
        r["per_device"]
            .as_array()
            .and_then(|a| a.iter().find(|d| d["id"] == id))
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {r}"))
    };
    let p = dev("tasmota_plug");
    assert_eq!(p["online"], false);
    assert_eq!(p["readings"]["temperature"]["last"], 21.5);
    assert_eq!(p["shadow"]["reported"]["power"], true);
    assert_eq!(p["shadow"]["delta"], serde_json::json!({}));
    assert_eq!(dev("pico-1")["readings"]["temperature"]["last"], 20.25);
    assert_eq!(
        dev("kitchen")["readings"]["kitchen_temperature"]["last"],
        22.4
    );
    assert!(r["alerts"].as_array().is_some_and(|a| {
        a.iter()
            .any(|x| x["device"] == "tasmota_plug" && x["kind"] == "offline")
    }));
    // --record kept every message the mirror saw, as twin record writes them: the
    // plug's sensor messages and its last will among them.
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&recording)
        .expect("recording written")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let on = |t: &str| lines.iter().filter(|l| l["topic"] == t).count();
    assert!(on("tele/tasmota_plug/SENSOR") >= 3, "{}", lines.len());
    assert!(
        lines
            .iter()
            .any(|l| l["topic"] == "tele/tasmota_plug/LWT" && l["payload"] == "Offline")
    );
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["t"].as_f64() <= w[1]["t"].as_f64())
    );
    drop((pico, kitchen, greenhouse));
}
