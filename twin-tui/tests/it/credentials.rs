//! Credentials in the broker URL (`mqtt://user:password@host:port`): they log in, and the
//! password is never printed, in errors, output or reports.

use crate::{stderr, twin};
use sim_core::test_support::Mosquitto;
use std::path::PathBuf;
use std::process::Command;

const PASSWORD: &str = "secretpw";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("twin-cred-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

fn all_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn url_credentials_log_in_to_a_mosquitto_with_a_password_file() {
    if !Mosquitto::wanted() {
        return;
    }
    let dir = temp_dir("mosquitto");
    let passwd = dir.join("passwd");
    let made = Command::new("mosquitto_passwd")
        .args(["-c", "-b", passwd.to_str().unwrap(), "twin", PASSWORD])
        .status()
        .expect("mosquitto_passwd runs");
    assert!(made.success());
    let broker = Mosquitto::start(&format!(
        "password_file {}\nallow_anonymous false",
        passwd.display()
    ))
    .expect("mosquitto");
    let port = broker.addr.port();
    let json = dir.join("r.json");
    let run = |url: &str| {
        twin(&[
            "run",
            "scenarios/examples/quickstart.toml",
            "--duration",
            "30s",
            "--speed",
            "max",
            "--connect-timeout",
            "2s",
            "--broker",
            url,
            "--json",
            json.to_str().unwrap(),
        ])
    };
    let o = run(&format!("mqtt://twin:{PASSWORD}@127.0.0.1:{port}"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!all_text(&o).contains(PASSWORD), "{}", all_text(&o));
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(!report.contains(PASSWORD), "{report}");
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        v["broker"]["url"],
        format!("mqtt://twin:***@127.0.0.1:{port}")
    );
    assert_eq!(v["messages"]["lost"], 0);
    assert!(v["messages"]["received"].as_u64().unwrap() > 0, "{report}");

    // The broker does check: without the password, or with a wrong one, no run.
    for url in [
        format!("mqtt://127.0.0.1:{port}"),
        format!("mqtt://twin:wrong{PASSWORD}@127.0.0.1:{port}"),
    ] {
        let o = run(&url);
        assert_eq!(o.status.code(), Some(1), "{url}: {}", all_text(&o));
        assert!(!all_text(&o).contains(PASSWORD), "{}", all_text(&o));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_url_with_a_password_is_refused_without_showing_it() {
    let o = twin(&[
        "run",
        "scenarios/examples/quickstart.toml",
        "--broker",
        &format!("mqtt://twin:{PASSWORD}@host:port"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        stderr(&o).trim_end(),
        "error: broker url \"mqtt://twin:***@host:port\": port \"port\" is not a number from 1 to 65535"
    );
    for cmd in [&["load", "pub"][..], &["load", "sub"][..]] {
        let mut args = cmd.to_vec();
        let url = format!("mqtt://twin:{PASSWORD}@:1883");
        args.extend(["--broker", &url]);
        let o = twin(&args);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", all_text(&o));
        assert!(
            stderr(&o).contains("mqtt://twin:***@:1883"),
            "{}",
            stderr(&o)
        );
        assert!(!all_text(&o).contains(PASSWORD), "{}", all_text(&o));
    }
}

#[test]
fn credentials_in_the_url_and_in_flags_are_refused() {
    let o = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "run",
            "scenarios/examples/quickstart.toml",
            "--broker",
            &format!("mqtt://twin:{PASSWORD}@127.0.0.1:1"),
            "--username",
            "other",
        ])
        .current_dir(crate::repo())
        .env_remove("TWIN_BROKER")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", all_text(&o));
    assert!(
        stderr(&o).contains(
            "broker url mqtt://twin:***@127.0.0.1:1 carries credentials, and --username/--password (or TWIN_USERNAME/TWIN_PASSWORD) give them too; expected one or the other"
        ),
        "{}",
        stderr(&o)
    );
    assert!(!all_text(&o).contains(PASSWORD));
}

#[test]
fn check_shows_the_scenarios_broker_without_its_password() {
    let dir = temp_dir("check");
    let file = dir.join("with-password.toml");
    let src =
        std::fs::read_to_string(crate::repo().join("scenarios/examples/quickstart.toml")).unwrap();
    let with_broker =
        format!("{src}\n[broker]\nurl = \"mqtt://twin:{PASSWORD}@broker.example:1884\"\n");
    std::fs::write(&file, &with_broker).unwrap();
    let o = twin(&["check", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("broker   mqtt://twin:***@broker.example:1884"),
        "{out}"
    );
    assert!(!out.contains(PASSWORD), "{out}");
    // A bad one: the message and the quoted line both hide it.
    std::fs::write(&file, with_broker.replace(":1884", ":x")).unwrap();
    let o = twin(&["check", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("mqtt://twin:***@broker.example:x"),
        "{}",
        stderr(&o)
    );
    assert!(!all_text(&o).contains(PASSWORD), "{}", all_text(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
