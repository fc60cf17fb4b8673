//! What small valid files expand to: defaults, `{n}` templating, event order.

use scenarios::{Encoding, EventAction, ModelSpec, Scenario, SetValue, Speed, fill_template};

fn parse(src: &str) -> Scenario {
    scenarios::parse(src, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

const MINIMAL: &str = r#"
[scenario]
name = "home"
duration = "1h"

[[environment]]
name = "room"

[[devices]]
id = "dht-1"
model = "dht22"
environment = "room"
"#;

#[test]
fn a_minimal_file_gets_the_documented_defaults() {
    let s = parse(MINIMAL);
    assert_eq!(s.fleet, "home");
    assert_eq!(s.seed, 0);
    assert_eq!(s.duration, 3600.0);
    assert_eq!(s.speed, Speed::Factor(1.0));
    assert_eq!(s.start_epoch, 1_768_435_200.0, "2026-01-15T00:00:00Z");
    assert_eq!(s.broker_url, None);

    let m = &s.mqtt;
    assert_eq!(m.qos, 1);
    assert_eq!(m.encoding, Encoding::Json);
    assert_eq!(m.keep_alive, 30.0);
    assert!(!m.sent_us);
    assert_eq!(
        fill_template(&m.telemetry_topic, &s.fleet, "dht-1"),
        "twin/home/dht-1/telemetry"
    );
    assert_eq!(
        fill_template(&m.command_topic, &s.fleet, "dht-1"),
        "twin/home/dht-1/cmd"
    );
    assert_eq!(
        fill_template(&m.status_topic, &s.fleet, "dht-1"),
        "twin/home/dht-1/status"
    );
    assert_eq!(fill_template(&m.client_id, &s.fleet, "dht-1"), "dht-1");

    let e = &s.environments[0];
    assert_eq!(
        (
            e.outdoor_mean,
            e.outdoor_amplitude,
            e.outdoor_peak_hour,
            e.initial_temperature
        ),
        (5.0, 4.0, 15.0, 17.0)
    );
    assert_eq!((e.time_constant, e.heater_gain), (10_800.0, 6.0));
    assert_eq!(
        (e.humidity, e.humidity_amplitude, e.pressure, e.occupancy),
        (45.0, 5.0, 1013.25, 1.0)
    );

    let d = &s.devices[0];
    assert_eq!(d.model, ModelSpec::Dht22);
    assert_eq!(d.environment, Some(0));
    assert_eq!(d.publish_every, 10.0);
    assert_eq!(d.jitter, 10.0, "jitter defaults to the publish period");
    assert_eq!(d.battery, None);
    assert!(s.events.is_empty());
}

#[test]
fn fleet_and_topics_can_be_set() {
    let s = parse(&MINIMAL.replace(
        "duration = \"1h\"",
        "duration = \"1h\"\nfleet = \"site-a\"\n\n[mqtt]\ntelemetry_topic = \"plant/{fleet}/{device}\"\nqos = 0\nencoding = \"msgpack\"",
    ));
    assert_eq!(s.fleet, "site-a");
    assert_eq!(s.mqtt.qos, 0);
    assert_eq!(s.mqtt.encoding, Encoding::MsgPack);
    assert_eq!(
        fill_template(&s.mqtt.telemetry_topic, &s.fleet, "dht-1"),
        "plant/site-a/dht-1"
    );
    assert_eq!(
        fill_template(&s.mqtt.command_topic, &s.fleet, "dht-1"),
        "twin/site-a/dht-1/cmd"
    );
}

#[test]
fn the_default_tick_is_the_shortest_publish_period_up_to_one_second() {
    // dht22 publishes every 10 s by default: the tick is capped at 1 s.
    assert_eq!(parse(MINIMAL).tick, 1.0);

    let fast = MINIMAL.replace(
        "model = \"dht22\"",
        "model = \"bme280\"\npublish_every = \"250ms\"",
    );
    assert_eq!(parse(&fast).tick, 0.25);

    let explicit = MINIMAL.replace("duration = \"1h\"", "duration = \"1h\"\ntick = \"100ms\"");
    assert_eq!(parse(&explicit).tick, 0.1);

    let too_long = MINIMAL.replace("duration = \"1h\"", "duration = \"1h\"\ntick = \"20s\"");
    let err = scenarios::parse(&too_long, "test.toml").unwrap_err();
    assert_eq!(err.location(), Some((5, 8)));
    assert!(
        err.to_string()
            .contains("longer than the shortest publish_every"),
        "{err}"
    );
}

#[test]
fn default_publish_periods_follow_the_model() {
    let s = parse(
        r#"
[scenario]
name = "periods"
duration = "1h"

[[environment]]
name = "room"

[[devices]]
id = "tmp-1"
model = "tmp36"
environment = "room"

[[devices]]
id = "soil-1"
model = "soil_moisture"
environment = "room"

[[devices]]
id = "relay-1"
model = "relay"

[[devices]]
id = "meter-1"
model = "power_meter"
battery_mah = 2000.0
"#,
    );
    let periods: Vec<f64> = s.devices.iter().map(|d| d.publish_every).collect();
    assert_eq!(periods, [5.0, 60.0, 30.0, 10.0]);
    assert_eq!(
        s.devices[1].model,
        ModelSpec::SoilMoisture {
            irrigated_by: None,
            dry_per_day: 8.0
        }
    );
    assert_eq!(s.devices[2].model, ModelSpec::Relay { initial: false });
    assert_eq!(
        s.devices[3].model,
        ModelSpec::PowerMeter { base_load_w: 150.0 }
    );
    let battery = s.devices[3].battery.unwrap();
    assert_eq!((battery.capacity_mah, battery.drain_mah), (2000.0, 0.05));
    assert!(
        (s.expected_msgs_per_sim_second() - (1.0 / 5.0 + 1.0 / 60.0 + 1.0 / 30.0 + 1.0 / 10.0))
            .abs()
            < 1e-12
    );
}

#[test]
fn n_expands_ids_environments_and_references() {
    let s = parse(
        r#"
[scenario]
name = "rooms"
duration = "1h"

[[environment]]
name = "room-{n}"
count = 3

[[devices]]
id = "dht-{n}"
count = 3
model = "dht22"
environment = "room-{n}"

[[devices]]
id = "heater-{n}"
count = 3
model = "heater"
environment = "room-{n}"

[[devices]]
id = "thermostat-{n}"
count = 3
model = "thermostat"
environment = "room-{n}"
sensor = "dht-{n}"
heater = "heater-{n}"
"#,
    );
    let envs: Vec<&str> = s.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(envs, ["room-1", "room-2", "room-3"]);
    let ids: Vec<&str> = s.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "dht-1",
            "dht-2",
            "dht-3",
            "heater-1",
            "heater-2",
            "heater-3",
            "thermostat-1",
            "thermostat-2",
            "thermostat-3"
        ]
    );
    assert_eq!(s.groups.len(), 3);
    assert_eq!(s.groups[2].id_template, "thermostat-{n}");
    assert_eq!(s.groups[2].count, 3);
    for n in 1..=3 {
        let t = &s.devices[s.device_index(&format!("thermostat-{n}")).unwrap()];
        assert_eq!(t.environment, Some(n - 1));
        let want = ModelSpec::Thermostat {
            setpoint: 21.0,
            hysteresis: 1.0,
            sensor: s.device_index(&format!("dht-{n}")),
            heaters: vec![s.device_index(&format!("heater-{n}")).unwrap()],
        };
        assert_eq!(t.model, want);
    }
}

#[test]
fn a_thermostat_without_heater_drives_the_heaters_in_its_room() {
    let s = parse(
        r#"
[scenario]
name = "auto"
duration = "1h"

[[environment]]
name = "room-{n}"
count = 2

[[devices]]
id = "heater-{n}"
count = 2
model = "heater"
environment = "room-{n}"

[[devices]]
id = "spare-heater"
model = "heater"
environment = "room-2"
power_w = 500.0

[[devices]]
id = "thermostat-2"
model = "thermostat"
environment = "room-2"
"#,
    );
    let t = &s.devices[s.device_index("thermostat-2").unwrap()];
    let ModelSpec::Thermostat {
        sensor, heaters, ..
    } = &t.model
    else {
        panic!("{:?}", t.model)
    };
    assert_eq!(*sensor, None, "no sensor key: it uses its own");
    let names: Vec<&str> = heaters.iter().map(|&h| s.devices[h].id.as_str()).collect();
    assert_eq!(names, ["heater-2", "spare-heater"]);
}

#[test]
fn events_are_sorted_by_time_and_keep_file_order_on_ties() {
    let s = parse(
        r#"
[scenario]
name = "timeline"
duration = "1h"

[[devices]]
id = "relay-{n}"
count = 3
model = "relay"

[[events]]
at = "30m"
target = "relay-1"
action = "set"
set = { on = false }

[[events]]
at = "10m"
target = "relay-*"
action = "set"
set = { on = true }

[[events]]
at = "30m"
target = "relay-2"
action = "disconnect"

[[events]]
at = "20m"
target = "relay-3"
action = "rate"
publish_every = "5s"
"#,
    );
    let times: Vec<f64> = s.events.iter().map(|e| e.at).collect();
    assert_eq!(times, [600.0, 1200.0, 1800.0, 1800.0]);
    assert_eq!(
        s.events[0].devices,
        [0, 1, 2],
        "relay-* matches every relay"
    );
    assert_eq!(
        s.events[0].action,
        EventAction::Set(vec![("on".into(), SetValue::Bool(true))])
    );
    assert_eq!(s.events[1].action, EventAction::Rate(5.0));
    assert_eq!(
        s.events[2].action,
        EventAction::Set(vec![("on".into(), SetValue::Bool(false))])
    );
    assert_eq!(s.events[3].action, EventAction::Disconnect);
    assert_eq!(s.events[3].devices, [1]);
}

#[test]
fn the_readme_examples_parse_and_every_model_and_key_is_documented() {
    let readme = std::fs::read_to_string(crate::crate_path("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.contains("[scenario]"))
        .collect();
    assert!(!blocks.is_empty(), "README has no complete scenario");
    for b in &blocks {
        let s = parse(b);
        assert!(!s.devices.is_empty());
    }
    let office = parse(blocks[0]);
    let ids: Vec<&str> = office.devices.iter().map(|d| d.id.as_str()).collect();
    assert!(
        readme.contains(&format!(
            "({})",
            ids.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        "README lists other devices than {ids:?}"
    );

    for kind in scenarios::ModelKind::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", kind.name())),
            "model {} undocumented",
            kind.name()
        );
        for key in kind.param_keys().iter().copied().chain(kind.readings()) {
            assert!(
                readme.contains(&format!("`{key}`")),
                "{key} of {} undocumented",
                kind.name()
            );
        }
    }
    for key in scenarios::COMMON_KEYS {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "{key} undocumented"
        );
    }
    // Every key of a user model, its generators and datasheet.
    for key in [
        "name",
        "publish_every",
        "readings",
        "state",
        "commands",
        "transitions",
        "constant",
        "uniform",
        "normal",
        "random_walk",
        "sine",
        "ramp",
        "sequence",
        "pick",
        "expr",
        "unit",
        "resolution",
        "range",
        "accuracy",
        "noise",
        "fail_rate",
        "analyse",
    ] {
        assert!(
            readme.contains(&format!("| `{key}` |")),
            "model key {key} undocumented"
        );
    }
    for word in [
        "include = [",
        "`initial`",
        "`values = [",
        "`publish = false`",
        "`when`",
        "`env_temperature`",
    ] {
        assert!(readme.contains(word), "{word} undocumented");
    }
}

#[test]
fn analytics_and_rules_expand_with_their_targets() {
    let src = r#"
[scenario]
name = "rules"
duration = "1h"

[analytics]
window = "5m"
spike_method = "robust_z"
stale_factor = 4.0

[[environment]]
name = "room"

[[devices]]
id = "t-{n}"
count = 3
model = "bme280"
environment = "room"

[[devices]]
id = "relay-1"
model = "relay"

[[rules]]
sensor = "temperature"
target = "t-*"
above = 26.0
hysteresis = 0.5
n = 2
m = 3

[[rules]]
sensor = "pressure"
max_rate_per_s = 0.5
"#;
    let s = scenarios::parse(src, "rules.toml").unwrap();
    assert_eq!(s.analytics.window, 300.0);
    assert!(s.analytics.robust_spikes);
    assert_eq!(s.analytics.spike_threshold, 3.5);
    assert_eq!(s.analytics.stale_factor, 4.0);
    assert_eq!(s.rules.len(), 2);
    assert_eq!(s.rules[0].devices, [0, 1, 2]);
    assert_eq!(
        (s.rules[0].above, s.rules[0].n, s.rules[0].m),
        (Some(26.0), 2, 3)
    );
    // The relay publishes no pressure, so only the BME280s are covered.
    assert_eq!(s.rules[1].devices, [0, 1, 2]);
    assert_eq!(s.rules[1].max_rate_per_s, Some(0.5));

    let bad = src.replace("max_rate_per_s = 0.5", "hysteresis = 1.0");
    let e = scenarios::parse(&bad, "rules.toml").unwrap_err();
    assert!(
        e.to_string()
            .contains("needs above, below or max_rate_per_s"),
        "{e}"
    );
    let bad = src.replace("target = \"t-*\"", "target = \"relay-*\"");
    let e = scenarios::parse(&bad, "rules.toml").unwrap_err();
    assert!(e.to_string().contains("matches no device"), "{e}");
    let bad = src.replace("m = 3", "m = 1");
    assert!(
        scenarios::parse(&bad, "rules.toml")
            .unwrap_err()
            .to_string()
            .contains("at least n")
    );
    let bad = src.replace("\"robust_z\"", "\"psychic\"");
    assert!(
        scenarios::parse(&bad, "rules.toml")
            .unwrap_err()
            .location()
            .is_some()
    );
}

#[test]
fn gateways_hold_devices_per_gateway_and_groups_that_name_one_share_it() {
    let s = parse(
        r#"
[scenario]
name = "hubs"
duration = "1h"

[[environment]]
name = "room-{n}"
count = 5

[[devices]]
id = "dht-{n}"
count = 5
model = "dht22"
environment = "room-{n}"
gateway = "hub-{n}"
devices_per_gateway = 2
faults = [{ kind = "offline", per_hour = 0.5, on = "gateway" }]

[[devices]]
id = "ds-{n}"
count = 3
model = "ds18b20"
environment = "room-{n}"
gateway = "hub-1"

[[devices]]
id = "own-1"
model = "ds18b20"
environment = "room-1"
"#,
    );
    let gws: Vec<(String, Vec<usize>)> = s
        .gateways()
        .into_iter()
        .map(|g| (g.id, g.devices))
        .collect();
    assert_eq!(
        gws,
        vec![
            ("hub-1".to_string(), vec![0, 1, 5, 6, 7]),
            ("hub-2".to_string(), vec![2, 3]),
            ("hub-3".to_string(), vec![4]),
        ]
    );
    assert_eq!(s.devices[8].gateway, None);
    assert!(s.devices[0].faults[0].on_gateway);
    // A gateway is one session: its devices stay in one shard.
    let shard = scenarios::assignment(&s, 3);
    for g in s.gateways() {
        assert!(g.devices.iter().all(|&i| shard[i] == shard[g.devices[0]]));
    }
}

const USER_MODEL: &str = r#"
[scenario]
name = "user"
duration = "1h"

[[environment]]
name = "room"

[[models]]
name = "gadget"
publish_every = "30s"

[models.state]
on = { initial = true }
level = { initial = 3, range = [0, 10] }
mode = { values = ["idle", "busy"], initial = "idle", publish = false }

[models.commands]
work = { mode = "busy", level = 7 }

[models.readings]
a = { constant = 1.5, unit = "V" }
b = { uniform = [0, 2], resolution = 0.5 }
c = { normal = { mean = 10, sd = 1 }, accuracy = 0.2, noise = 0.1 }
d = { random_walk = { start = 5, step = 0.1, min = 0, max = 10, reversion = 0.1 } }
e = { sine = { mean = 20, amplitude = 2, period = "1h", phase = "15m" }, range = [19, 21] }
f = { ramp = { from = 0, per_hour = 6, to = 3 } }
g = { sequence = [1, 2, 3] }
h = { pick = [4, 5], fail_rate = 0.1, analyse = false }
z = { expr = 'if(on && mode == "idle", a + d, level) + env_temperature * 0.0' }

[[models.transitions]]
when = "d > 9.5"
set = { mode = "busy" }

[[devices]]
id = "g-{n}"
count = 3
model = "gadget"
environment = "room"

[[events]]
at = "10m"
target = "g-1"
action = "set"
set = { command = "work" }
"#;

#[test]
fn a_user_model_expands_with_every_generator_state_and_command() {
    use scenarios::{Generator, ModelKind, StateKind};
    let s = parse(USER_MODEL);
    let ModelSpec::User(m) = &s.devices[0].model else {
        panic!("{:?}", s.devices[0].model)
    };
    assert_eq!(s.devices[0].publish_every, 30.0);
    let names: Vec<&str> = m.readings.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g", "h", "z"]);
    // `z` reads `a` and `d`: it is evaluated after both.
    let pos = |i: usize| m.order.iter().position(|&o| o == i).unwrap();
    assert!(pos(8) > pos(0) && pos(8) > pos(3));
    assert!(matches!(m.readings[3].generator, Generator::RandomWalk { step, .. } if step == 0.1));
    assert!(
        matches!(m.readings[4].generator, Generator::Sine { period, phase, .. } if period == 3600.0 && phase == 900.0)
    );
    assert_eq!(m.readings[4].range, Some((19.0, 21.0)));
    assert_eq!((m.readings[2].accuracy, m.readings[2].noise), (0.2, 0.1));
    assert_eq!(m.readings[7].fail_rate, 0.1);
    assert!(!m.readings[7].analyse && m.readings[0].analyse);
    assert_eq!(m.readings[0].unit.as_deref(), Some("V"));
    assert!(m.uses_environment);
    // States (like readings) come in name order.
    assert_eq!(m.states[0].kind, StateKind::Number(Some((0.0, 10.0))));
    assert!(matches!(&m.states[1].kind, StateKind::Enum(w) if w == &["idle", "busy"]));
    assert!(!m.states[1].publish);
    assert_eq!(m.states[2].kind, StateKind::Bool);
    assert_eq!(m.commands[0].name, "work");
    assert_eq!(m.commands[0].set.len(), 2);
    assert_eq!(m.transitions.len(), 1);
    let kind = ModelKind::User(m.clone());
    assert_eq!(kind.name(), "gadget");
    assert!(kind.is_actuator() && kind.needs_environment());
    assert!(kind.readings().contains(&"level") && !kind.readings().contains(&"mode"));
    assert!(!kind.analysed_readings().contains(&"h"));
    assert_eq!(s.events.len(), 1);
}

#[test]
fn user_model_names_and_commands_are_checked() {
    let cases = [
        (
            "name = \"gadget\"",
            "name = \"dht22\"",
            "is a built-in model's name",
        ),
        (
            "a = { constant = 1.5, unit = \"V\" }",
            "seq = { constant = 1.5 }",
            "\"seq\" is reserved",
        ),
        (
            "set = { command = \"work\" }",
            "set = { command = \"rest\" }",
            "is not one of its commands: work",
        ),
        (
            "set = { command = \"work\" }",
            "set = { level = 11 }",
            "state \"level\" cannot hold Number(11.0); expected a number in [0, 10]",
        ),
        ("when = \"d > 9.5\"", "when = \"d = 9.5\"", "assigns to `d`"),
        (
            "when = \"d > 9.5\"",
            "when = \"sqrt(d) > 3\"",
            "calls `sqrt`, which is not a function here",
        ),
        (
            "level = { initial = 3, range = [0, 10] }",
            "level = { initial = 30, range = [0, 10] }",
            "state \"level\" cannot hold 30",
        ),
    ];
    for (from, to, expected) in cases {
        assert_eq!(USER_MODEL.matches(from).count(), 1, "{from}");
        let src = USER_MODEL.replace(from, to);
        let err = scenarios::parse(&src, "user.toml")
            .expect_err(to)
            .to_string();
        assert!(err.contains(expected), "{to}: {err}");
    }
}
