use crate::adapter::{Adapter, Event, Outcome};
use crate::config::{AdapterConfig, HaComponent, HomeAssistantConfig, MirrorConfig};
use crate::discover::{Seen, starter_config};
use serde_json::json;

fn seen(topic: &str, payload: &str) -> Seen {
    Seen {
        topic: topic.into(),
        payload: payload.as_bytes().to_vec(),
        count: 1,
    }
}

/// The config printed for `s`, parsed as `twin mirror` parses it.
fn discovered(s: &[Seen]) -> (String, MirrorConfig) {
    let text = starter_config(s, "home", None);
    let cfg =
        MirrorConfig::parse(&text, "discovered.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, cfg)
}

fn ha<'a>(cfg: &'a MirrorConfig, id: &str, text: &str) -> &'a HomeAssistantConfig {
    match cfg.device(id).map(|d| &d.adapter) {
        Some(AdapterConfig::HomeAssistant(h)) => h,
        other => panic!("{id}: {other:?}\n{text}"),
    }
}

#[test]
fn entities_are_grouped_into_devices_with_abbreviations_and_base_topics() {
    let s = vec![
        // Abbreviated, with `~`, a node id, and the device's name in front of the
        // entity's (Home Assistant's older convention).
        seen(
            "homeassistant/sensor/plug/temperature/config",
            r#"{"~":"kitchen/plug","name":"Kitchen plug Temperature","stat_t":"~/state","val_tpl":"{{ value_json.temperature }}","avty_t":"~/avail","pl_avail":"up","pl_not_avail":"down","uniq_id":"p-t","dev":{"ids":["0xA1"],"name":"Kitchen plug"}}"#,
        ),
        seen(
            "homeassistant/switch/plug/relay/config",
            r#"{"~":"kitchen/plug","name":"Kitchen plug Power","stat_t":"~/state","val_tpl":"{{ value_json.power }}","cmd_t":"~/relay/set","pl_on":"on","pl_off":"off","avty_t":"~/avail","pl_avail":"up","pl_not_avail":"down","dev":{"ids":"0xA1"}}"#,
        ),
        // Same device (identifier), unabbreviated, no node id.
        seen(
            "homeassistant/number/plug_target/config",
            r#"{"~":"kitchen/plug/target","name":"Target","state_topic":"~","command_topic":"~/set","device":{"identifiers":["0xA1"]}}"#,
        ),
        // Not mirrored: a light, and a template beyond the simple forms.
        seen(
            "homeassistant/light/plug/led/config",
            r#"{"name":"LED","stat_t":"kitchen/plug/led","dev":{"ids":["0xA1"]}}"#,
        ),
        seen(
            "homeassistant/sensor/plug/energy/config",
            r#"{"name":"Energy","stat_t":"kitchen/plug/state","val_tpl":"{{ value_json.energy * 1000 }}","dev":{"ids":["0xA1"]}}"#,
        ),
        // Another device, grouped by its name, with the availability list form and a
        // `~` at the end of a topic.
        seen(
            "homeassistant/binary_sensor/door/config",
            r#"{"~":"door","name":"Contact","stat_t":"hall/~","pl_on":"open","pl_off":"closed","avty":[{"t":"hall/door/lwt"}],"dev":{"name":"Hall door"}}"#,
        ),
        // A third, known only by its node id; a removed entity (empty payload).
        seen(
            "homeassistant/sensor/attic/temp/config",
            r#"{"stat_t":"attic/t"}"#,
        ),
        seen("homeassistant/sensor/attic/old/config", ""),
        // The state the devices published.
        seen(
            "kitchen/plug/state",
            r#"{"temperature":21.5,"power":"on","energy":3}"#,
        ),
        seen("kitchen/plug/avail", "up"),
        seen("kitchen/plug/target", "20"),
        seen("hall/door", "closed"),
        seen("attic/t", "12.5"),
    ];
    let (text, cfg) = discovered(&s);
    let ids: Vec<&str> = cfg.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, vec!["kitchen-plug", "hall-door", "attic"], "{text}");

    let plug = ha(&cfg, "kitchen-plug", &text);
    assert_eq!(
        plug.availability_topic.as_deref(),
        Some("kitchen/plug/avail")
    );
    assert_eq!(
        (
            plug.payload_available.as_str(),
            plug.payload_not_available.as_str()
        ),
        ("up", "down")
    );
    let summary: Vec<(&str, HaComponent, &str, Option<&str>)> = plug
        .entities
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.component,
                e.state_topic.as_str(),
                e.command_topic.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "temperature",
                HaComponent::Sensor,
                "kitchen/plug/state",
                None
            ),
            (
                "power",
                HaComponent::Switch,
                "kitchen/plug/state",
                Some("kitchen/plug/relay/set")
            ),
            (
                "target",
                HaComponent::Number,
                "kitchen/plug/target",
                Some("kitchen/plug/target/set")
            ),
        ],
        "{text}"
    );
    assert_eq!(
        (
            plug.entities[1].payload_on.as_str(),
            plug.entities[1].payload_off.as_str()
        ),
        ("on", "off")
    );
    assert!(
        cfg.device("kitchen-plug")
            .is_some_and(|d| d.model.is_some()),
        "a temperature suggests a model: {text}"
    );
    for skipped in [
        "not mirrored: homeassistant/light/plug/led/config: component light is not mirrored",
        "not mirrored: homeassistant/sensor/plug/energy/config: value_template {{ value_json.energy * 1000 }}: unexpected `* 1000`",
    ] {
        assert!(text.contains(skipped), "{skipped}\n{text}");
    }
    assert!(
        text.contains("Home Assistant device Kitchen plug: temperature 21.5, target 20"),
        "{text}"
    );

    let door = ha(&cfg, "hall-door", &text);
    assert_eq!(door.availability_topic.as_deref(), Some("hall/door/lwt"));
    assert_eq!(door.payload_available, "online");
    assert_eq!(door.entities[0].name, "contact");
    assert_eq!(door.entities[0].payload_on, "open");

    let attic = ha(&cfg, "attic", &text);
    assert_eq!(attic.availability_topic, None);
    assert_eq!(attic.entities[0].name, "temp");

    // The printed entities read what the device publishes.
    let mut a = Adapter::new(cfg.devices[0].adapter.clone());
    assert_eq!(
        a.decode(
            "kitchen/plug/state",
            br#"{"temperature":22,"power":"off"}"#,
            1024
        ),
        Outcome::Events(vec![
            Event::Reading("temperature".into(), 22.0),
            Event::State("power".into(), json!(false)),
        ])
    );
    // A device's JSON state is its own, not a generic JSON device besides.
    assert!(!text.contains("adapter = \"json\""), "{text}");
}

#[test]
fn a_device_another_convention_mirrors_is_not_repeated() {
    let s = vec![
        // An ESPHome node that also announces itself to Home Assistant.
        seen("kitchen/status", "online"),
        seen("kitchen/sensor/kitchen_temperature/state", "22.1"),
        seen("kitchen/switch/fan/state", "OFF"),
        seen(
            "homeassistant/sensor/kitchen/kitchen_temperature/config",
            r#"{"name":"Kitchen Temperature","stat_t":"kitchen/sensor/kitchen_temperature/state","avty_t":"kitchen/status","uniq_id":"espsensorkitchen_temperature","dev":{"ids":"24a160d3c2e4","name":"kitchen","sw":"esphome v2024.6.1"}}"#,
        ),
        seen(
            "homeassistant/switch/kitchen/fan/config",
            r#"{"name":"Fan","stat_t":"~/switch/fan/state","cmd_t":"~/switch/fan/command","~":"kitchen","avty_t":"~/status","dev":{"ids":"24a160d3c2e4","name":"kitchen"}}"#,
        ),
        // A Tasmota plug with SetOption19: its discovery points at tele/…/SENSOR.
        seen("tele/tasmota_plug/LWT", "Online"),
        seen(
            "tele/tasmota_plug/SENSOR",
            r#"{"AM2301":{"Temperature":21.5,"Humidity":40.1}}"#,
        ),
        seen(
            "homeassistant/sensor/5CCF7F000001_AM2301_Temperature/config",
            r#"{"name":"Tasmota AM2301 Temperature","stat_t":"tele/tasmota_plug/SENSOR","avty_t":"tele/tasmota_plug/LWT","pl_avail":"Online","pl_not_avail":"Offline","val_tpl":"{{value_json['AM2301'].Temperature}}","dev":{"ids":["5CCF7F000001"]}}"#,
        ),
        // And one device only Home Assistant discovery describes.
        seen(
            "homeassistant/sensor/garage/t/config",
            r#"{"name":"Temperature","stat_t":"garage/state","val_tpl":"{{ value_json.t }}","dev":{"name":"garage"}}"#,
        ),
        seen("garage/state", r#"{"t":7.5}"#),
    ];
    let (text, cfg) = discovered(&s);
    let summary: Vec<(&str, &str)> = cfg
        .devices
        .iter()
        .map(|d| (d.id.as_str(), Adapter::new(d.adapter.clone()).name()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("tasmota_plug", "tasmota"),
            ("kitchen", "esphome"),
            ("garage", "homeassistant"),
        ],
        "{text}"
    );
    assert!(
        text.contains(
            "Home Assistant device kitchen: already mirrored above as ESPHome node kitchen"
        ),
        "{text}"
    );
    assert!(
        text.contains("Home Assistant device 5CCF7F000001: already mirrored above as Tasmota device tasmota_plug"),
        "{text}"
    );
}

#[test]
fn broken_or_empty_discovery_is_a_comment() {
    let s = vec![
        seen("homeassistant/sensor/x/config", "not json"),
        seen("homeassistant/sensor/y/t/config", "{}"),
        seen(
            "homeassistant/climate/z/config",
            r#"{"name":"Heat","dev":{"name":"hvac"}}"#,
        ),
    ];
    let (text, cfg) = discovered(&s);
    assert!(cfg.devices.is_empty(), "{text}");
    for note in [
        "homeassistant/sensor/x/config: not a JSON object",
        "Home Assistant device y: nothing this version mirrors",
        "homeassistant/sensor/y/t/config: no state_topic",
        "Home Assistant device hvac: nothing this version mirrors",
        "homeassistant/climate/z/config: component climate is not mirrored",
    ] {
        assert!(text.contains(note), "{note}\n{text}");
    }
}
