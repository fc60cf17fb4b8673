use super::*;
use crate::EventAction;

/// Six rooms with a DHT22, a heater and a thermostat, room 6's thermostat driving the
/// hall's heater; a soil probe watered by a relay that has no room; loose LEDs; three
/// probes in an unheated cellar.
const FLEET: &str = r#"
[scenario]
name = "shards"
duration = "10m"

[[environment]]
name = "room-{n}"
count = 6

[[environment]]
name = "hall"

[[environment]]
name = "greenhouse"

[[environment]]
name = "cellar"

[[devices]]
id = "dht-{n}"
count = 6
model = "dht22"
environment = "room-{n}"

[[devices]]
id = "heater-{n}"
count = 6
model = "heater"
environment = "room-{n}"

[[devices]]
id = "hall-heater"
model = "heater"
environment = "hall"

[[devices]]
id = "thermostat-{n}"
count = 5
model = "thermostat"
environment = "room-{n}"
sensor = "dht-{n}"
heater = "heater-{n}"

[[devices]]
id = "thermostat-6"
model = "thermostat"
environment = "room-6"
sensor = "dht-6"
heater = "hall-heater"

[[devices]]
id = "valve"
model = "relay"

[[devices]]
id = "soil"
model = "soil_moisture"
environment = "greenhouse"
irrigated_by = "valve"

[[devices]]
id = "led-{n}"
count = 7
model = "led"

[[devices]]
id = "probe-{n}"
count = 3
model = "ds18b20"
environment = "cellar"

[[events]]
at = "1m"
target = "thermostat-*"
action = "set"
set = { setpoint = 19.0 }

[[events]]
at = "2m"
target = "led-3"
action = "set"
set = { on = true }
"#;

fn fleet() -> Scenario {
    crate::parse(FLEET, "shards.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn id(s: &Scenario, i: usize) -> &str {
    &s.devices[i].id
}

#[test]
fn linked_devices_form_one_set() {
    let s = fleet();
    let sets = linked_sets(&s);
    let named: Vec<Vec<&str>> = sets
        .iter()
        .map(|v| v.iter().map(|&i| id(&s, i)).collect())
        .collect();
    // Six rooms (room 6 with the hall), the valve with its probe, seven LEDs, and the
    // cellar's probes each on its own: nothing there changes the cellar.
    assert_eq!(named.len(), 6 + 1 + 7 + 3, "{named:?}");
    assert!(named.contains(&vec!["probe-2"]));
    assert_eq!(
        named[0],
        ["dht-1", "heater-1", "thermostat-1"],
        "a room's devices are one set"
    );
    let room6 = named.iter().find(|v| v.contains(&"dht-6")).unwrap();
    assert_eq!(
        room6,
        &["dht-6", "heater-6", "hall-heater", "thermostat-6"],
        "linked by the thermostat's heater"
    );
    assert!(named.contains(&vec!["valve", "soil"]));
}

#[test]
fn shards_partition_the_fleet_keep_sets_whole_and_are_balanced() {
    let s = fleet();
    let sets = linked_sets(&s);
    let largest = sets.iter().map(Vec::len).max().unwrap();
    for count in 1..=6 {
        let of = assignment(&s, count);
        let mut seen = vec![0; s.devices.len()];
        let mut sizes = Vec::new();
        for index in 0..count {
            let part = s.sharded(index, count);
            sizes.push(part.devices.len());
            for (k, d) in part.devices.iter().enumerate() {
                let whole = part.fleet_index(k);
                assert_eq!(s.devices[whole].id, d.id);
                assert_eq!(of[whole], index);
                seen[whole] += 1;
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{count} shards: {seen:?}");
        for set in &sets {
            assert!(set.iter().all(|&i| of[i] == of[set[0]]), "{set:?} split");
        }
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= largest, "{count} shards: {sizes:?}");
    }
    // The same file gives the same partition.
    assert_eq!(assignment(&s, 4), assignment(&fleet(), 4));
}

#[test]
fn a_shard_renumbers_references_and_keeps_only_its_events() {
    let s = fleet();
    for index in 0..4 {
        let part = s.sharded(index, 4);
        let shard = part.shard.as_ref().unwrap();
        assert_eq!((shard.index, shard.count), (index, 4));
        assert_eq!(shard.others.len(), s.devices.len() - part.devices.len());
        assert_eq!(part.environments, s.environments);
        for d in &part.devices {
            if let ModelSpec::Thermostat {
                sensor, heaters, ..
            } = &d.model
            {
                let n = d.id.trim_start_matches("thermostat-");
                assert_eq!(part.devices[sensor.unwrap()].id, format!("dht-{n}"));
                assert!(
                    heaters
                        .iter()
                        .all(|&h| part.devices[h].model.kind().name() == "heater")
                );
            }
        }
        for e in &part.events {
            assert!(!e.devices.is_empty());
            for &k in &e.devices {
                let whole = part.fleet_index(k);
                let original = s.events.iter().find(|o| o.at == e.at).unwrap();
                assert!(original.devices.contains(&whole));
            }
        }
        let led3 = part.devices.iter().any(|d| d.id == "led-3");
        let led_event = part
            .events
            .iter()
            .any(|e| matches!(&e.action, EventAction::Set(v) if v[0].0 == "on"));
        assert_eq!(led3, led_event, "shard {index}");
    }
    assert!(s.sharded(0, 1).shard.is_none());
}
