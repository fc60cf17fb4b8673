//! `twin mirror` configuration: which physical devices to mirror, how each one speaks
//! (its adapter), and the twin each one is bound to. TOML, every key checked, every error
//! with its file, line and column. `hw-bridge/README.md` documents each key.
//!
//! The file's shape is in `raw.rs`, the checks every key shares in `checks.rs`, the
//! whole file in `mirror.rs` and `[device.twin]` in `twin.rs`; each convention's own
//! settings and checks live in its folder under `adapter/`, re-exported here.

pub(crate) mod checks;
pub(crate) mod mirror;
pub(crate) mod raw;
pub(crate) mod twin;

pub use crate::adapter::config::{ADAPTERS, AdapterConfig};
pub use crate::adapter::homeassistant::entity::{
    DEFAULT_AVAILABLE, DEFAULT_NOT_AVAILABLE, DEFAULT_OFF, DEFAULT_ON, HaComponent, HaEntity,
    HomeAssistantConfig, valid_name as valid_entity_name,
};
pub use crate::adapter::json::config::JsonConfig;
pub use crate::adapter::serial::config::{DEFAULT_BAUD, SerialConfig};
pub use crate::adapter::sparkplug::config::SparkplugConfig;
pub use checks::valid_filter;
pub use mirror::{DeviceConfig, MirrorConfig};
pub use twin::TwinConfig;

#[cfg(test)]
mod tests {
    use super::*;
    use scenarios::ModelKind;

    const GOOD: &str = r#"
[mirror]
fleet = "home"
stale_after = "30s"

[[device]]
id = "plug"
adapter = "tasmota"
topic = "tasmota_5C1A2B"
model = "dht22"

[[device]]
id = "pico-1"
adapter = "json"
topic = "sensors/pico-1/telemetry"
status_topic = "sensors/pico-1/status"
command_topic = "sensors/pico-1/cmd"
readings = { temperature = "/temperature" }
state = { relay = "/relay" }

[device.twin]
heater = "plug.power"
heater_kw = 2.0

[[device]]
id = "kitchen"
adapter = "esphome"
node = "kitchen-node"
"#;

    fn err(src: &str) -> String {
        match MirrorConfig::parse(src, "m.toml") {
            Err(e) => e.to_string(),
            Ok(c) => panic!("accepted: {c:?}"),
        }
    }

    #[test]
    fn a_bad_fleet_is_blamed_on_its_own_line() {
        let e = err("[mirror]\nstale_after = \"30s\"\nfleet = \"a/b\"\n");
        assert!(e.contains("m.toml:3:9: [mirror] fleet \"a/b\""), "{e}");
    }

    #[test]
    fn a_full_config_parses() {
        let c = MirrorConfig::parse(GOOD, "m.toml").expect("valid");
        assert_eq!(c.fleet, "home");
        assert_eq!(c.stale_after, 30.0);
        assert_eq!(c.devices.len(), 3);
        assert_eq!(c.devices[0].model, Some(ModelKind::Dht22));
        let twin = c.devices[1].twin.as_ref().expect("twin");
        assert_eq!(twin.heater, Some(("plug".into(), "power".into())));
        assert_eq!(twin.heater_kw, 2.0);
        assert_eq!(twin.reading, "temperature");
        match &c.devices[1].adapter {
            AdapterConfig::Json(j) => {
                assert_eq!(j.source_id, "pico-1");
                assert_eq!(j.state.get("relay").map(String::as_str), Some("/relay"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_point_at_the_line() {
        let e = err("[[device]]\nid = \"a\"\nadapter = \"zigbee\"\n");
        assert!(
            e.contains("m.toml:3:11") && e.contains("unknown adapter"),
            "{e}"
        );
        let e = err("[[device]]\nid = \"a\"\nadapter = \"json\"\n");
        assert!(e.contains("needs `topic`"), "{e}");
        let e = err("[[device]]\nid = \"a\"\nadapter = \"esphome\"\nnode = \"n\"\ntopic = \"x\"\n");
        assert!(
            e.contains("m.toml:5:9") && e.contains("not a setting of adapter"),
            "{e}"
        );
        let e = err("[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"t\"\ncolour = 1\n");
        assert!(
            e.contains("m.toml:5:1") && e.contains("unknown field"),
            "{e}"
        );
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"t\"\n[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"u\"\n",
        );
        assert!(e.contains("m.toml:6:6") && e.contains("used twice"), "{e}");
        let e = err("[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"a/#/b\"\n");
        assert!(e.contains("not a valid MQTT topic filter"), "{e}");
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"t\"\nreadings = { t = \"temperature\" }\n",
        );
        assert!(e.contains("JSON pointer"), "{e}");
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"t\"\n[device.twin]\nheater = \"plug.power\"\n",
        );
        assert!(
            e.contains("m.toml:6:10") && e.contains("no device \"plug\""),
            "{e}"
        );
        let e = err("[mirror]\nbroker = \"http://x\"\n");
        assert!(e.contains("m.toml:2:10"), "{e}");
        let e = err("[mirror]\nstale_after = \"0s\"\n");
        assert!(e.contains("longer than zero"), "{e}");
    }

    #[test]
    fn the_example_config_parses() {
        let src = include_str!("../../examples/mirror.toml");
        let c = MirrorConfig::parse(src, "examples/mirror.toml").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.devices.len(), 3);
        assert_eq!(c.stale_after, 120.0);
        let twin = c.devices[1].twin.as_ref().expect("pico-1 has a twin");
        assert_eq!(twin.time_constant, 3.0 * 3600.0);
        assert_eq!(twin.heater, Some(("plug".into(), "power".into())));
    }

    #[test]
    fn sparkplug_devices_parse_and_their_mistakes_point_at_the_line() {
        let c = MirrorConfig::parse(
            "[[device]]\nid = \"press\"\nadapter = \"sparkplug\"\ngroup = \"plant\"\nedge_node = \"gw-1\"\ndevice = \"press-3\"\nreadings = { temperature = \"Inputs/Temperature\" }\nstate = { running = \"Running\" }\n\n[[device]]\nid = \"gw\"\nadapter = \"sparkplug\"\ngroup = \"plant\"\nedge_node = \"gw-1\"\n",
            "m.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        match (&c.devices[0].adapter, &c.devices[1].adapter) {
            (AdapterConfig::Sparkplug(press), AdapterConfig::Sparkplug(gw)) => {
                assert_eq!(
                    (press.group.as_str(), press.edge_node.as_str()),
                    ("plant", "gw-1")
                );
                assert_eq!(press.device.as_deref(), Some("press-3"));
                assert_eq!(
                    press.readings.get("temperature").map(String::as_str),
                    Some("Inputs/Temperature")
                );
                assert_eq!(
                    press.state.get("running").map(String::as_str),
                    Some("Running")
                );
                assert_eq!(gw.device, None);
                assert!(gw.readings.is_empty() && gw.state.is_empty());
            }
            other => panic!("{other:?}"),
        }

        let sp = "[[device]]\nid = \"a\"\nadapter = \"sparkplug\"\n";
        let e = err(&format!("{sp}edge_node = \"gw-1\"\n"));
        assert!(
            e.contains("m.toml:3:11") && e.contains("needs `group`"),
            "{e}"
        );
        let e = err(&format!("{sp}group = \"plant\"\n"));
        assert!(e.contains("needs `edge_node`"), "{e}");
        let e = err(&format!(
            "{sp}group = \"plant/north\"\nedge_node = \"gw-1\"\n"
        ));
        assert!(
            e.contains("m.toml:4:9") && e.contains("one topic level"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\ndevice = \"+\"\n"
        ));
        assert!(
            e.contains("m.toml:6:10") && e.contains("one topic level"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\ndevice = \"\"\n"
        ));
        assert!(e.contains("m.toml:6:10") && e.contains("is empty"), "{e}");
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\ntopic = \"x\"\n"
        ));
        assert!(
            e.contains("m.toml:6:9") && e.contains("not a setting of adapter \"sparkplug\""),
            "{e}"
        );
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"tasmota\"\ntopic = \"t\"\nedge_node = \"gw-1\"\n",
        );
        assert!(
            e.contains("m.toml:5:13") && e.contains("(it is for sparkplug)"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\nreadings = {{ t = \"\" }}\n"
        ));
        assert!(
            e.contains("m.toml:6:12") && e.contains("name the Sparkplug metric"),
            "{e}"
        );
        let e = err(&format!(
            "{sp}group = \"plant\"\nedge_node = \"gw-1\"\nreadings = {{ t = \"T\" }}\nstate = {{ t = \"S\" }}\n"
        ));
        assert!(
            e.contains("m.toml:7:9") && e.contains("both `readings` and `state`"),
            "{e}"
        );
    }

    #[test]
    fn serial_devices_parse_and_their_mistakes_point_at_the_line() {
        let c = MirrorConfig::parse(
            "[mirror]\nfleet = \"home\"\n\n[[device]]\nid = \"bench\"\nadapter = \"serial\"\nport = \"/dev/ttyUSB0\"\nreadings = { temperature = \"/t\" }\nstate = { relay = \"/relay\" }\n\n[[device]]\nid = \"desk\"\nadapter = \"serial\"\nport = \"/dev/ttyACM0\"\nbaud = 9600\n",
            "m.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (AdapterConfig::Serial(bench), AdapterConfig::Serial(desk)) =
            (&c.devices[0].adapter, &c.devices[1].adapter)
        else {
            panic!("{c:?}")
        };
        assert_eq!((bench.port.as_str(), bench.baud), ("/dev/ttyUSB0", 115_200));
        assert_eq!((desk.port.as_str(), desk.baud), ("/dev/ttyACM0", 9600));
        // The mirror reads the bridged lines as a JSON device on the serial topics.
        assert_eq!(bench.json.topic, "twin/home/bench/serial/telemetry");
        assert_eq!(
            bench.json.status_topic.as_deref(),
            Some("twin/home/bench/serial/status")
        );
        assert_eq!(
            bench.json.command_topic.as_deref(),
            Some("twin/home/bench/serial/cmd")
        );
        assert_eq!(
            bench.json.readings.get("temperature").map(String::as_str),
            Some("/t")
        );
        assert_eq!(
            bench.json.state.get("relay").map(String::as_str),
            Some("/relay")
        );
        assert!(desk.json.readings.is_empty() && desk.json.id_pointer.is_none());

        let sd = "[[device]]\nid = \"a\"\nadapter = \"serial\"\n";
        let e = err(sd);
        assert!(
            e.contains("m.toml:3:11") && e.contains("needs `port`"),
            "{e}"
        );
        let e = err(&format!("{sd}port = \"\"\n"));
        assert!(e.contains("m.toml:4:8") && e.contains("is empty"), "{e}");
        let e = err(&format!("{sd}port = \"/dev/ttyUSB0\"\nbaud = 0\n"));
        assert!(
            e.contains("m.toml:5:8") && e.contains("greater than zero"),
            "{e}"
        );
        let e = err(&format!("{sd}port = \"/dev/ttyUSB0\"\nbaud = -9600\n"));
        assert!(e.contains("m.toml:5:8"), "{e}");
        let e = err(&format!("{sd}port = \"/dev/ttyUSB0\"\nbaud = \"fast\"\n"));
        assert!(e.contains("m.toml:5:8"), "{e}");
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\ntopic = \"sensors/a\"\n"
        ));
        assert!(
            e.contains("m.toml:5:9") && e.contains("not a setting of adapter \"serial\""),
            "{e}"
        );
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\ncommand_topic = \"a/cmd\"\n"
        ));
        assert!(
            e.contains("m.toml:5:17") && e.contains("not a setting of adapter \"serial\""),
            "{e}"
        );
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\nreadings = {{ t = \"temperature\" }}\n"
        ));
        assert!(
            e.contains("m.toml:5:12") && e.contains("JSON pointer"),
            "{e}"
        );
        let e = err(
            "[[device]]\nid = \"a\"\nadapter = \"json\"\ntopic = \"t\"\nport = \"/dev/ttyUSB0\"\n",
        );
        assert!(
            e.contains("m.toml:5:8") && e.contains("(it is for serial)"),
            "{e}"
        );
        let e = err(&format!(
            "{sd}port = \"/dev/ttyUSB0\"\n[[device]]\nid = \"b\"\nadapter = \"serial\"\nport = \"/dev/ttyUSB0\"\n"
        ));
        assert!(
            e.contains("m.toml:8:8") && e.contains("used by two devices"),
            "{e}"
        );
    }

    #[test]
    fn filters_are_checked() {
        assert!(valid_filter("a/+/b"));
        assert!(valid_filter("a/#"));
        assert!(!valid_filter("a/#/b"));
        assert!(!valid_filter("a/b+"));
        assert!(!valid_filter(""));
    }
}
