//! The scenarios shipped in `examples/` load and build the fleets their headers promise.

use crate::{crate_path, toml_files};
use scenarios::{EventAction, ModelKind, ModelSpec, Scenario, SetValue, Speed};

fn example(name: &str) -> Scenario {
    let path = crate_path("examples").join(format!("{name}.toml"));
    scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Wall-clock seconds the run takes when paced at its speed.
fn wall_seconds(s: &Scenario) -> f64 {
    match s.speed {
        Speed::Factor(f) => s.duration / f,
        Speed::Max => panic!("{} is not paced", s.name),
    }
}

fn count_of(s: &Scenario, kind: ModelKind) -> usize {
    s.devices.iter().filter(|d| d.model.kind() == kind).count()
}

#[test]
fn every_example_loads_and_is_named_after_its_file() {
    let files = toml_files("examples");
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let s = scenarios::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Some(s.name.as_str()),
            path.file_stem().and_then(|n| n.to_str())
        );
        assert_eq!(s.seed, 42, "{}", s.name);
        assert_eq!(s.mqtt.qos, 1, "{}", s.name);
        assert!(
            s.broker_url.is_none(),
            "{}: examples use the embedded broker",
            s.name
        );
        let src = std::fs::read_to_string(&path).unwrap();
        let run = format!(
            "cargo run --release -p twin-tui -- run scenarios/examples/{}.toml",
            s.name
        );
        assert!(
            src.contains(&run),
            "{}: header does not say how to run it",
            s.name
        );
    }
}

#[test]
fn quickstart_is_small_and_every_device_sends_twenty_messages() {
    let s = example("quickstart");
    assert!(
        (5..=15).contains(&s.devices.len()),
        "{} devices",
        s.devices.len()
    );
    assert!(
        (25.0..=35.0).contains(&wall_seconds(&s)),
        "{} s",
        wall_seconds(&s)
    );
    for d in &s.devices {
        let msgs = s.duration / d.publish_every;
        assert!(msgs >= 20.0, "{} sends only {msgs} messages", d.id);
    }
    for kind in [
        ModelKind::Dht22,
        ModelKind::Heater,
        ModelKind::Thermostat,
        ModelKind::Relay,
        ModelKind::PowerMeter,
    ] {
        assert!(count_of(&s, kind.clone()) >= 1, "no {}", kind.name());
    }
    assert!(count_of(&s, ModelKind::Dht22) >= 2);
}

#[test]
fn day_1000_is_a_day_of_a_thousand_devices_of_ten_models_unpaced() {
    let s = example("day-1000");
    assert_eq!(s.devices.len(), 1000);
    assert_eq!((s.duration, s.speed), (86_400.0, Speed::Max));
    let mut kinds: Vec<ModelKind> = s.devices.iter().map(|d| d.model.kind()).collect();
    kinds.sort_by(|a, b| a.name().cmp(b.name()));
    kinds.dedup();
    assert_eq!(kinds.len(), 10, "{kinds:?}");
    // A message a simulated minute from each: 1,440,000 in the day.
    let day = s.expected_msgs_per_sim_second() * s.duration;
    assert!((day - 1_440_000.0).abs() < 1e-3, "{day}");
}

#[test]
fn load_10k_is_ten_thousand_messages_a_second_at_qos_1() {
    let s = example("load-10k");
    assert_eq!(s.devices.len(), 10_000);
    assert_eq!(s.mqtt.qos, 1);
    assert!((s.expected_msgs_per_sim_second() - 10_000.0).abs() < 1e-6);
    assert_eq!(s.duration, 60.0);
    assert_eq!(s.speed, Speed::Factor(1.0));
    assert!(
        s.devices
            .iter()
            .all(|d| d.publish_every == 1.0 && d.jitter == 1.0)
    );
    assert!(
        s.tick < 1.0,
        "a 1 s tick would put every publish on the same step"
    );
}

#[test]
fn smart_home_thermostats_read_and_heat_their_own_room() {
    let s = example("smart-home");
    assert!(
        (25.0..=35.0).contains(&wall_seconds(&s)),
        "{} s",
        wall_seconds(&s)
    );
    let mut in_own_room = 0;
    for d in &s.devices {
        let ModelSpec::Thermostat {
            setpoint,
            hysteresis,
            sensor,
            heaters,
        } = &d.model
        else {
            continue;
        };
        let room = d.environment.unwrap();
        let sensor = sensor.expect("each thermostat reads a room sensor");
        assert_eq!(s.devices[sensor].model.kind(), ModelKind::Dht22);
        assert!(!heaters.is_empty());
        if s.devices[sensor].environment == Some(room)
            && heaters
                .iter()
                .all(|&h| s.devices[h].environment == Some(room))
        {
            in_own_room += 1;
        }
        // The room starts below the band, so the heater has to run.
        let start = s.environments[room].initial_temperature;
        assert!(
            start < setpoint - hysteresis / 2.0,
            "{}: room starts at {start}",
            d.id
        );
    }
    assert!(in_own_room >= 1, "no thermostat reads and heats one room");
    assert_eq!(in_own_room, count_of(&s, ModelKind::Thermostat));
    assert!(count_of(&s, ModelKind::Pir) >= s.environments.len());

    let sets = |key: &str| {
        s.events.iter().any(|e| match &e.action {
            EventAction::Set(v) => v.iter().any(|(k, _)| k == key),
            _ => false,
        })
    };
    assert!(sets("on"), "no light switched");
    assert!(sets("setpoint"), "no setpoint changed");
}

#[test]
fn greenhouse_probes_are_watered_by_valves_that_events_open_and_close() {
    let s = example("greenhouse");
    assert!(
        (25.0..=35.0).contains(&wall_seconds(&s)),
        "{} s",
        wall_seconds(&s)
    );
    let mut valves = Vec::new();
    for d in &s.devices {
        if let ModelSpec::SoilMoisture { irrigated_by, .. } = d.model {
            let valve = irrigated_by.unwrap_or_else(|| panic!("{} is not irrigated", d.id));
            assert_eq!(s.devices[valve].model.kind(), ModelKind::Relay);
            valves.push(valve);
        }
    }
    assert!(!valves.is_empty(), "no soil_moisture devices");
    assert!(
        count_of(&s, ModelKind::Bme280) + count_of(&s, ModelKind::Dht22) >= 1,
        "no humidity sensor"
    );
    let switched = |valve: usize, on: bool| {
        s.events.iter().any(|e| {
            e.devices.contains(&valve)
                && e.action == EventAction::Set(vec![("on".into(), SetValue::Bool(on))])
        })
    };
    for v in valves {
        assert!(
            switched(v, true) && switched(v, false),
            "{} is never opened and closed",
            s.devices[v].id
        );
    }
}

#[test]
fn gateways_100k_is_a_hundred_thousand_devices_behind_two_hundred_gateways() {
    let s = example("gateways-100k");
    assert_eq!(s.devices.len(), 100_000);
    let gateways = s.gateways();
    assert_eq!(gateways.len(), 200);
    assert!(gateways.iter().all(|g| g.devices.len() == 500));
    assert!(s.devices.iter().all(|d| d.gateway.is_some()));
    assert!((s.expected_msgs_per_sim_second() - 10_000.0).abs() < 1e-6);
    assert_eq!((s.duration, s.speed), (60.0, Speed::Factor(1.0)));
}

#[test]
fn pump_station_takes_its_pump_from_the_model_library() {
    let s = example("pump-station");
    assert_eq!(s.devices.len(), 6);
    let ModelSpec::User(m) = &s.devices[0].model else {
        panic!("{:?}", s.devices[0].model)
    };
    assert_eq!(m.name, "pump");
    let names: Vec<&str> = m.readings.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["bearing", "flow", "motor_temp", "pressure", "vibration"]
    );
    let states: Vec<&str> = m.states.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(states, ["mode", "speed_pct"]);
    let commands: Vec<&str> = m.commands.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(commands, ["start", "stop"]);
    assert_eq!(m.transitions.len(), 1);
    // The motor temperature reads the pump room.
    assert!(m.uses_environment);
    assert!(s.devices.iter().all(|d| d.environment == Some(0)));
    // Vibration is evaluated after the bearing it scales.
    let pos = |name: &str| {
        let i = names.iter().position(|n| *n == name).unwrap();
        m.order.iter().position(|&o| o == i).unwrap()
    };
    assert!(pos("vibration") > pos("bearing"));
    let commanded: Vec<&SetValue> = s
        .events
        .iter()
        .filter_map(|e| match &e.action {
            EventAction::Set(set) => set.iter().find(|(k, _)| k == "command").map(|(_, v)| v),
            _ => None,
        })
        .collect();
    assert_eq!(
        commanded.len(),
        3,
        "stop, start and the restart after the trip"
    );
    assert!(wall_seconds(&s) <= 60.0);
}

#[test]
fn office_is_five_floors_of_twenty_rooms_each_with_its_own_loop() {
    let s = example("office");
    assert_eq!(s.environments.len(), 100);
    assert_eq!(s.devices.len(), 400);
    let names: Vec<&str> = s.environments.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        (names[0], names[19], names[20], names[99]),
        ("f1-r01", "f1-r20", "f2-r01", "f5-r20")
    );
    let src = std::fs::read_to_string(crate_path("examples/office.toml")).unwrap();
    assert!(src.lines().count() <= 80, "one screen of TOML");
    for d in &s.devices {
        let room = &s.environments[d.environment.expect("every device in a room")].name;
        assert!(d.id.ends_with(&format!("-{room}")), "{} in {room}", d.id);
        if let ModelSpec::Thermostat {
            sensor, heaters, ..
        } = &d.model
        {
            let sensor = &s.devices[sensor.expect("reads the room's DHT22")];
            assert_eq!(sensor.id, format!("dht-{room}"));
            assert_eq!(heaters.len(), 1);
            assert_eq!(s.devices[heaters[0]].id, format!("heater-{room}"));
        }
    }
}
