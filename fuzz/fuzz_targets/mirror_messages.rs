//! The mirror on any sequence of messages: every adapter (Tasmota, ESPHome, Homie,
//! generic JSON, Home Assistant discovery, Sparkplug B) and the shadow update topic get arbitrary bytes, in any
//! order, retained or not. Nothing panics, and the report adds up.
//!
//! Input: messages separated by the two bytes 0xFF 0x00; in each, the first byte picks
//! the topic (and whether it is retained), the rest is the payload.

#![no_main]

use hw_bridge::MirrorConfig;
use hw_bridge::mirror::Mirror;
use libfuzzer_sys::fuzz_target;
use sim_core::report::BrokerInfo;

const CONFIG: &str = r#"
[mirror]
fleet = "f"
max_payload = 4096

[[device]]
id = "plug"
adapter = "tasmota"
topic = "plug"

[[device]]
id = "node"
adapter = "esphome"
node = "node"

[[device]]
id = "gh"
adapter = "homie"
device_id = "gh"

[[device]]
id = "pico"
adapter = "json"
topic = "s/+/t"
id_pointer = "/device_id"
source_id = "pico"
status_topic = "s/pico/status"
command_topic = "s/pico/cmd"
state = { relay = "/relay" }
[device.twin]
heater = "plug.power"

[[device]]
id = "ha"
adapter = "homeassistant"
availability_topic = "ha/status"
entities = [
  { name = "temperature", component = "sensor", state_topic = "ha/state", value_template = "{{ value_json['t'].c | float | round(1) }}" },
  { name = "power", component = "switch", state_topic = "ha/state", command_topic = "ha/relay/set", value_template = "{{ value_json.power }}" },
  { name = "level", component = "number", state_topic = "ha/level", command_topic = "ha/level/set" },
]

[[device]]
id = "gw"
adapter = "sparkplug"
group = "g"
edge_node = "gw"

[[device]]
id = "press"
adapter = "sparkplug"
group = "g"
edge_node = "gw"
device = "press"
"#;

const TOPICS: &[&str] = &[
    "tele/plug/SENSOR",
    "tele/plug/STATE",
    "tele/plug/LWT",
    "stat/plug/POWER",
    "stat/plug/RESULT",
    "node/status",
    "node/sensor/t/state",
    "node/switch/fan/state",
    "homie/gh/$state",
    "homie/gh/sensor/temperature",
    "homie/gh/relay/on",
    "s/pico/t",
    "s/pico/status",
    "spBv1.0/g/NBIRTH/gw",
    "spBv1.0/g/NDATA/gw",
    "spBv1.0/g/NDEATH/gw",
    "spBv1.0/g/DBIRTH/gw/press",
    "spBv1.0/g/DDATA/gw/press",
    "spBv1.0/g/DDEATH/gw/press",
    "ha/state",
    "ha/level",
    "ha/status",
    "twin/f/ha/shadow/update",
    "twin/f/plug/shadow/update",
    "twin/f/pico/shadow/update",
    "twin/f/press/shadow/update",
];

fuzz_target!(|bytes: &[u8]| {
    // Parsed once: the config is not what this target explores.
    static CFG: std::sync::OnceLock<MirrorConfig> = std::sync::OnceLock::new();
    let cfg = CFG.get_or_init(|| MirrorConfig::parse(CONFIG, "fuzz.toml").expect("the fuzz config is valid"));
    let mut m = Mirror::new(cfg, 0.0);
    let mut now = 0.0;
    let mut start = 0;
    let mut i = 0;
    let mut messages: Vec<&[u8]> = Vec::new();
    while i + 1 < bytes.len() {
        if bytes[i] == 0xFF && bytes[i + 1] == 0x00 {
            messages.push(&bytes[start..i]);
            start = i + 2;
            i += 2;
        } else {
            i += 1;
        }
    }
    messages.push(&bytes[start.min(bytes.len())..]);
    for msg in messages {
        let Some((&pick, payload)) = msg.split_first() else {
            continue;
        };
        let topic = TOPICS[usize::from(pick) % TOPICS.len()];
        let retained = pick >= 0x80;
        now += 0.5;
        let _ = m.handle(topic, payload, retained, now);
        if pick % 7 == 0 {
            now += 40.0;
            let _ = m.tick(now);
        }
    }
    let _ = m.tick(now + 100.0);
    let r = m.report(
        now + 100.0,
        BrokerInfo {
            url: "mqtt://127.0.0.1:1".into(),
            embedded: false,
        },
        false,
    );
    let per_device: u64 = r.per_device.iter().map(|d| d.malformed).sum();
    assert_eq!(r.messages.malformed, per_device + r.unattributed_malformed);
    assert_eq!(r.messages.sent, r.messages.received + r.messages.lost);
    assert!(r.devices.seen <= r.devices.total && r.devices.online <= r.devices.total);
    let _ = serde_json::to_string(&r).expect("the report serialises");
});
