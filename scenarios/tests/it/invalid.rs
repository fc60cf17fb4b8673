//! Every fixture in `tests/invalid/` is rejected with the place and the reason.

use crate::{crate_path, toml_files};
use scenarios::ScenarioError;

/// One fixture: where its single problem is and what the message must say.
struct Case {
    file: &'static str,
    line: usize,
    column: usize,
    fragment: &'static str,
}

const fn case(file: &'static str, line: usize, column: usize, fragment: &'static str) -> Case {
    Case {
        file,
        line,
        column,
        fragment,
    }
}

const CASES: &[Case] = &[
    case(
        "template_expression.toml",
        14,
        15,
        "\"{(n-1)/per+1}\" reads `per`; a name template's expressions read only n",
    ),
    case(
        "model_unknown_reading.toml",
        12,
        17,
        "reads `vibraton`, which is not a reading, a state or one of t, hour, env_temperature, env_humidity, env_pressure; known: env_humidity, env_pressure, env_temperature, flow, hour, t, vibration; did you mean `vibration`?",
    ),
    case(
        "model_cycle.toml",
        10,
        17,
        "read each other in a circle: flow → pressure → flow",
    ),
    case(
        "model_command_unknown_state.toml",
        13,
        10,
        "command \"stop\" sets \"mdoe\", which is not a state of model \"pump\"; its states: mode; did you mean \"mode\"?",
    ),
    case(
        "model_type_error.toml",
        16,
        8,
        "with the start values, `vibration * 2.0` gave 4, not true or false",
    ),
    case(
        "model_two_generators.toml",
        10,
        8,
        "reading \"flow\" needs exactly one generator",
    ),
    case(
        "model_include_missing.toml",
        2,
        12,
        "cannot include \"lib/no-such-library.toml\"",
    ),
    case("bad_type.toml", 11, 9, "invalid type: string \"ten\""),
    case("unknown_key.toml", 13, 1, "unknown field `colour`"),
    case(
        "unknown_model.toml",
        11,
        9,
        "unknown model \"dht11\"; valid models are: dht22",
    ),
    case("zero_count.toml", 11, 9, "count is 0; expected at least 1"),
    case(
        "negative_count.toml",
        11,
        9,
        "count is -3; expected at least 1",
    ),
    case(
        "bad_duration.toml",
        4,
        12,
        "invalid duration \"10 parsecs\"",
    ),
    case(
        "undefined_environment.toml",
        14,
        15,
        "environment \"room-3\" (for device \"dht-3\") is not defined; defined environments: room-1, room-2",
    ),
    case("missing_model.toml", 9, 1, "missing field `model`"),
    case("qos_3.toml", 7, 7, "qos is 3; expected 0, 1 or 2"),
    case(
        "thermostat_sensor_relay.toml",
        22,
        10,
        "sensor names \"relay-1\", a relay; expected a dht22",
    ),
    case(
        "event_target_none.toml",
        13,
        10,
        "target \"lamp-*\" matches no device",
    ),
    case(
        "event_after_end.toml",
        17,
        6,
        "event at 15m comes after the end of the run (10m)",
    ),
    case(
        "dht22_too_fast.toml",
        13,
        17,
        "too short for a dht22: the DHT22 datasheet's minimum sampling period is 2 s",
    ),
    case(
        "param_wrong_model.toml",
        13,
        12,
        "\"setpoint\" does not apply to model \"dht22\"",
    ),
    case(
        "count_without_n.toml",
        10,
        6,
        "count = 5 needs \"{n}\" in the id",
    ),
    case("toml_syntax.toml", 3, 20, "invalid basic string"),
    case(
        "unknown_placeholder.toml",
        7,
        19,
        "\"{environment}\" is not a placeholder here; expected {fleet}, {device}",
    ),
    case(
        "placeholder_typo.toml",
        7,
        6,
        "\"{N}\" is not a placeholder here; expected {n}; did you mean {n}?",
    ),
    case(
        "unclosed_placeholder.toml",
        7,
        17,
        "opens a '{' it never closes; expected a placeholder: {fleet}, {device}",
    ),
    case(
        "key_typo.toml",
        9,
        1,
        "`dry_per_day`, `faults`; did you mean `publish_every`?",
    ),
    case(
        "model_typo.toml",
        11,
        9,
        "valid models are: dht22, bme280, ds18b20, tmp36, pir, power_meter, soil_moisture, battery, relay, led, heater, thermostat; did you mean \"dht22\"?",
    ),
    case(
        "action_typo.toml",
        13,
        10,
        "expected set, disconnect, reconnect, rate or fault; did you mean \"disconnect\"?",
    ),
    case(
        "topic_dollar.toml",
        7,
        19,
        "topic \"$SYS/{device}\" starts with '$'; brokers keep such topics for themselves ($SYS) and drop what clients publish there",
    ),
    case(
        "topics_equal.toml",
        8,
        17,
        "command_topic and telemetry_topic are both \"site/{device}\"; expected a topic of its own for each",
    ),
    case(
        "topics_collide.toml",
        15,
        6,
        "status_topic of device \"lamp-state\" and telemetry_topic of device \"lamp\" are both \"site/lamp-state\"",
    ),
    case(
        "id_control_char.toml",
        7,
        6,
        "device id \"relay-\\0-1\" holds the control character U+0000; expected printable characters only",
    ),
    case(
        "fleet_control_char.toml",
        4,
        9,
        "fleet name \"site\\nb\" holds the control character U+000A; expected printable characters only",
    ),
    case(
        "topic_nul.toml",
        7,
        17,
        "\"twin/{device}/\\0cmd\" holds the control character U+0000; MQTT topics and client ids take printable characters only",
    ),
    case(
        "gateway_without_n.toml",
        14,
        11,
        "devices_per_gateway = 4 spreads 10 devices over 3 gateways, but gateway = \"hub\" has no {n}",
    ),
    case(
        "gateway_fault_kind.toml",
        16,
        50,
        "a stuck fault acts on the device itself; on = \"gateway\" applies to offline and battery_death",
    ),
    case(
        "gateway_is_a_device.toml",
        19,
        11,
        "gateway id \"hub\" is also a device id",
    ),
];

#[test]
fn each_fixture_is_rejected_at_its_line_and_column() {
    for c in CASES {
        let path = crate_path("tests/invalid").join(c.file);
        let err = match scenarios::load(&path) {
            Ok(_) => panic!("{} was accepted; expected an error", c.file),
            Err(e) => e,
        };
        assert!(
            matches!(err, ScenarioError::Invalid(_)),
            "{}: expected ScenarioError::Invalid, got {err:?}",
            c.file
        );
        assert_eq!(
            err.location(),
            Some((c.line, c.column)),
            "{}: wrong location in\n{err}",
            c.file
        );
        let text = err.to_string();
        assert!(text.contains(c.file), "{}: no file name in\n{text}", c.file);
        let at = format!(":{}:{}: ", c.line, c.column);
        assert!(text.contains(&at), "{}: no `{at}` in\n{text}", c.file);
        assert!(
            text.contains(c.fragment),
            "{}: expected `{}` in\n{text}",
            c.file,
            c.fragment
        );
        // The offending line is quoted under the message, with a caret below it.
        let mut lines = text.lines().skip(1);
        let quoted = lines.next().unwrap_or_default();
        let caret = lines.next().unwrap_or_default();
        let src = std::fs::read_to_string(&path).unwrap();
        let source_line = src.lines().nth(c.line - 1).unwrap();
        assert!(
            quoted.ends_with(source_line),
            "{}: quoted {quoted:?}",
            c.file
        );
        let gutter = c.line.to_string().len() + 3;
        assert_eq!(
            caret.len(),
            gutter + c.column,
            "{}: caret {caret:?}",
            c.file
        );
        assert!(caret.ends_with('^'), "{}: caret {caret:?}", c.file);
    }
}

#[test]
fn every_fixture_has_a_row_in_the_table() {
    let files: Vec<String> = toml_files("tests/invalid")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // The one fixture whose mistake is in another file has a test of its own.
    let mut listed: Vec<&str> = CASES.iter().map(|c| c.file).collect();
    listed.push("model_include_bad_library.toml");
    listed.sort_unstable();
    assert_eq!(files, listed);
}

#[test]
fn a_missing_file_is_a_read_error() {
    let path = crate_path("tests/invalid/no-such-scenario.toml");
    let err = scenarios::load(&path).unwrap_err();
    assert!(
        matches!(err, ScenarioError::Read { .. }),
        "expected ScenarioError::Read, got {err:?}"
    );
    assert_eq!(err.location(), None);
    let text = err.to_string();
    assert!(text.contains("no-such-scenario.toml"), "{text}");
}

#[test]
fn parse_names_the_file_it_is_given() {
    let err = scenarios::parse("[scenario]\nname = \"x\"\n", "inline.toml").unwrap_err();
    assert_eq!(err.location(), Some((1, 1)));
    let text = err.to_string();
    assert!(text.starts_with("inline.toml:1:1: "), "{text}");
    assert!(text.contains("missing field `duration`"), "{text}");
}

#[test]
fn a_mistake_in_an_included_library_is_reported_at_its_own_file_line_and_column() {
    let path = crate_path("tests/invalid/model_include_bad_library.toml");
    let err = scenarios::load(&path).expect_err("the library's mistake is refused");
    assert_eq!(err.location(), Some((13, 16)), "{err}");
    let text = err.to_string();
    assert!(text.contains("lib/bad-pump.toml:13:16: "), "{text}");
    assert!(
        text.contains("state \"mode\" cannot hold \"broken\"; expected one of stopped, running"),
        "{text}"
    );
    assert!(text.contains("set = { mode = \"broken\" }"), "{text}");
}
