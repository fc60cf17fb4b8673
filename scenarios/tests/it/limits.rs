//! What cannot work is refused at its place: names and topics MQTT cannot carry, keys
//! nested past the parser's limit, files too large to be a scenario.

use scenarios::ScenarioError;
use std::io::Write as _;
use std::time::{Duration, Instant};

const HEAD: &str = "[scenario]\nname = \"limits\"\nduration = \"10m\"\n";

fn refused(src: &str) -> ScenarioError {
    match scenarios::parse(src, "limits.toml") {
        Ok(_) => panic!("accepted; expected an error"),
        Err(e) => e,
    }
}

#[test]
fn an_id_longer_than_an_mqtt_string_is_refused_at_the_id() {
    let src = format!(
        "{HEAD}\n[[devices]]\nid = \"{}\"\nmodel = \"relay\"\n",
        "r".repeat(70_000)
    );
    let e = refused(&src);
    assert_eq!(e.location(), Some((6, 6)), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("is 70000 bytes long; MQTT strings hold at most 65535 bytes"),
        "{}",
        &text[..300.min(text.len())]
    );
    // The message quotes the start of the id, not all of it.
    assert!(text.lines().next().unwrap().len() < 300, "{}", &text[..400]);
}

#[test]
fn a_topic_longer_than_an_mqtt_string_is_refused_at_its_template() {
    let src = format!(
        "{HEAD}\n[mqtt]\ntelemetry_topic = \"{}/{{device}}\"\n\n[[devices]]\nid = \"relay-1\"\nmodel = \"relay\"\n",
        "t".repeat(65_530)
    );
    let e = refused(&src);
    assert_eq!(e.location(), Some((6, 19)));
    assert!(
        e.to_string().lines().next().unwrap().ends_with(
            "telemetry_topic of device \"relay-1\" is 65538 bytes long; MQTT strings hold at most 65535 bytes"
        ),
        "{}",
        e.to_string().lines().next().unwrap()
    );
}

#[test]
fn an_id_that_makes_a_dollar_topic_is_refused_at_the_id() {
    let src = format!(
        "{HEAD}\n[mqtt]\nstatus_topic = \"{{device}}/status\"\n\n[[devices]]\nid = \"$relay\"\nmodel = \"relay\"\n"
    );
    let e = refused(&src);
    assert_eq!(e.location(), Some((9, 6)), "{e}");
    assert!(
        e.to_string().contains(
            "status_topic of device \"$relay\" is \"$relay/status\", which starts with '$'"
        ),
        "{e}"
    );
}

#[test]
fn a_topic_of_one_device_that_is_another_devices_is_refused() {
    let src = format!(
        "{HEAD}\n[mqtt]\nclient_id = \"{{device}}{{device}}\"\n\n[[devices]]\nid = \"a{{n}}\"\ncount = 3\nmodel = \"relay\"\n\n[[devices]]\nid = \"b\"\nmodel = \"relay\"\n"
    );
    // "a1a1", "a2a2", "a3a3", "bb": all distinct, accepted.
    scenarios::parse(&src, "limits.toml").unwrap_or_else(|e| panic!("{e}"));
    let clash = format!(
        "{HEAD}\n[mqtt]\nclient_id = \"x-{{device}}\"\ntelemetry_topic = \"t/{{device}}\"\ncommand_topic = \"t/x-{{device}}\"\n\n[[devices]]\nid = \"a\"\nmodel = \"relay\"\n\n[[devices]]\nid = \"x-a\"\nmodel = \"relay\"\n"
    );
    let e = refused(&clash);
    assert_eq!(e.location(), Some((15, 6)), "{e}");
    assert!(
        e.to_string().contains(
            "telemetry_topic of device \"x-a\" and command_topic of device \"a\" are both \"t/x-a\""
        ),
        "{e}"
    );
}

#[test]
fn a_dotted_key_twenty_thousand_deep_is_refused_at_its_line() {
    let src = format!(
        "{HEAD}\n[[devices]]\nid = \"relay-1\"\nmodel = \"relay\"\n{} = 1\n",
        vec!["a"; 20_000].join(".")
    );
    let e = refused(&src);
    assert_eq!(e.location(), Some((8, 1)), "{}", &e.to_string()[..200]);
    assert!(
        e.to_string()
            .contains("this key has 20000 dotted parts; expected at most 80"),
        "{}",
        &e.to_string()[..200]
    );
    let header = format!("{HEAD}\n[{}]\nb = 1\n", vec!["a"; 20_000].join("."));
    assert_eq!(refused(&header).location(), Some((5, 2)));
}

#[test]
fn arrays_twenty_thousand_deep_are_refused_at_their_place() {
    let src = format!(
        "{HEAD}\n[[devices]]\nid = \"relay-1\"\nmodel = \"relay\"\nx = {}{}\n",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let e = refused(&src);
    assert_eq!(
        e.location().map(|l| l.0),
        Some(8),
        "{}",
        &e.to_string()[..200]
    );
    assert!(
        e.to_string()
            .contains("arrays and tables nest too deep here; expected at most 80 levels"),
        "{}",
        &e.to_string()[..200]
    );
}

#[test]
fn dev_zero_is_refused_at_once() {
    let started = Instant::now();
    let e = scenarios::load(std::path::Path::new("/dev/zero")).unwrap_err();
    assert!(matches!(e, ScenarioError::TooLarge { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "scenario file /dev/zero is larger than 4 MiB; expected a scenario (a fleet of any size fits in a few lines with count)"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_fifty_megabyte_file_is_refused_fast() {
    let path = std::env::temp_dir().join(format!("twin-limits-{}.toml", std::process::id()));
    let mut f = std::fs::File::create(&path).unwrap();
    let line = format!("# {}\n", "x".repeat(1021));
    for _ in 0..50 * 1024 {
        f.write_all(line.as_bytes()).unwrap();
    }
    drop(f);
    let started = Instant::now();
    let e = scenarios::load(&path).unwrap_err();
    let took = started.elapsed();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(e, ScenarioError::TooLarge { .. }), "{e:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(scenarios::MAX_FILE_BYTES, 4 * 1024 * 1024);
}
