use super::*;
use crate::adapter::Adapter;
use crate::config::{AdapterConfig, MirrorConfig, SparkplugConfig};

fn seen(topic: &str, payload: &str) -> Seen {
    Seen {
        topic: topic.into(),
        payload: payload.as_bytes().to_vec(),
        count: 1,
    }
}

fn sample() -> Vec<Seen> {
    vec![
        seen(
            "tasmota/discovery/5CCF7F000001/config",
            r#"{"ip":"10.0.0.5","dn":"Plug","t":"tasmota_plug","mac":"5CCF7F000001"}"#,
        ),
        seen("tele/tasmota_plug/LWT", "Online"),
        seen(
            "tele/tasmota_plug/SENSOR",
            r#"{"AM2301":{"Temperature":21.5,"Humidity":40.1}}"#,
        ),
        seen("tele/tasmota_plug/STATE", r#"{"POWER":"OFF"}"#),
        seen("kitchen/status", "online"),
        seen("kitchen/sensor/kitchen_temperature/state", "22.1"),
        seen("kitchen/switch/fan/state", "OFF"),
        seen("kitchen/debug", "boot"),
        seen(
            "sensors/pico-1/telemetry",
            r#"{"device_id":"pico-1","seq":3,"temperature":20.5,"humidity":41,"relay":false}"#,
        ),
        seen("sensors/pico-1/status", "online"),
        seen("homeassistant/sensor/kitchen/t/config", "{}"),
        seen("twin/home/plug/shadow", r#"{"state":{},"version":1}"#),
        seen(
            "twin/home/bench/serial/telemetry",
            r#"{"temperature":21.5}"#,
        ),
        seen("$SYS/broker/uptime", "10"),
        seen("weather/raw", "not json"),
        seen("homie/greenhouse/$state", "ready"),
        seen("homie/greenhouse/$homie", "4.0"),
        seen("homie/greenhouse/sensor/temperature", "19.5"),
        seen("homie/greenhouse/relay/on", "false"),
        seen("homie/5/shed/$state", "ready"),
    ]
}

#[test]
fn recognises_each_convention_and_writes_a_config_that_parses() {
    let text = starter_config(&sample(), "home", Some("mqtt://127.0.0.1:1883"));
    let cfg =
        MirrorConfig::parse(&text, "discovered.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let summary: Vec<(String, &str)> = cfg
        .devices
        .iter()
        .map(|d| (d.id.clone(), Adapter::new(d.adapter.clone()).name()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("tasmota_plug".to_string(), "tasmota"),
            ("kitchen".to_string(), "esphome"),
            ("greenhouse".to_string(), "homie"),
            ("shed".to_string(), "homie"),
            ("pico-1".to_string(), "json"),
        ],
        "{text}"
    );
    match &cfg.devices[3].adapter {
        AdapterConfig::Homie { base, .. } => assert_eq!(base, "homie/5"),
        other => panic!("{other:?}"),
    }
    assert_eq!(cfg.broker.as_deref(), Some("mqtt://127.0.0.1:1883"));
    assert_eq!(cfg.devices[0].model, Some(scenarios::ModelKind::Dht22));
    match &cfg.devices[4].adapter {
        AdapterConfig::Json(j) => {
            assert_eq!(j.status_topic.as_deref(), Some("sensors/pico-1/status"));
            assert_eq!(
                j.readings.get("temperature").map(String::as_str),
                Some("/temperature")
            );
            assert_eq!(j.state.get("relay").map(String::as_str), Some("/relay"));
            assert_eq!(j.id_pointer.as_deref(), Some("/device_id"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        text.contains("homeassistant/sensor/kitchen/t/config"),
        "{text}"
    );
}

#[test]
fn sparkplug_nodes_and_devices_are_found_from_births_and_data() {
    use crate::adapter::sparkplug::proto::{Metric, MetricValue, Payload, datatype};
    use prost::Message as _;
    let bytes = |seq: u64, metrics: Vec<Metric>| {
        Payload {
            timestamp: Some(1),
            metrics,
            seq: Some(seq),
        }
        .encode_to_vec()
    };
    let metric = |name: Option<&str>, alias: u64, dt: u32, v: MetricValue| Metric {
        name: name.map(str::to_string),
        alias: Some(alias),
        datatype: Some(dt),
        value: Some(v),
        ..Metric::default()
    };
    let raw = |topic: &str, payload: Vec<u8>| Seen {
        topic: topic.into(),
        payload,
        count: 1,
    };
    // Listed DATA first, as a broker's topics need not come in birth order.
    let s = vec![
        raw(
            "spBv1.0/plant/DDATA/gw-1/press-3",
            bytes(
                5,
                vec![metric(None, 2, datatype::DOUBLE, MetricValue::Double(22.5))],
            ),
        ),
        raw(
            "spBv1.0/plant/DBIRTH/gw-1/press-3",
            bytes(
                1,
                vec![
                    metric(
                        Some("temperature"),
                        2,
                        datatype::DOUBLE,
                        MetricValue::Double(21.5),
                    ),
                    metric(
                        Some("running"),
                        3,
                        datatype::BOOLEAN,
                        MetricValue::Boolean(true),
                    ),
                ],
            ),
        ),
        raw(
            "spBv1.0/plant/NBIRTH/gw-1",
            bytes(
                0,
                vec![metric(
                    Some("bdSeq"),
                    0,
                    datatype::UINT64,
                    MetricValue::Long(0),
                )],
            ),
        ),
        // Only DATA seen from this one: found, its aliases unread.
        raw(
            "spBv1.0/plant/DDATA/gw-2/oven",
            bytes(
                9,
                vec![metric(
                    None,
                    4,
                    datatype::DOUBLE,
                    MetricValue::Double(180.0),
                )],
            ),
        ),
        raw("spBv1.0/STATE/scada-1", br#"{"online":true}"#.to_vec()),
    ];
    let text = starter_config(&s, "plant", None);
    let cfg = MirrorConfig::parse(&text, "d.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let found: Vec<(&str, &SparkplugConfig)> = cfg
        .devices
        .iter()
        .map(|d| match &d.adapter {
            AdapterConfig::Sparkplug(sp) => (d.id.as_str(), sp),
            other => panic!("{other:?}\n{text}"),
        })
        .collect();
    let summary: Vec<(&str, &str, &str, Option<&str>)> = found
        .iter()
        .map(|(id, sp)| {
            (
                *id,
                sp.group.as_str(),
                sp.edge_node.as_str(),
                sp.device.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("gw-1", "plant", "gw-1", None),
            ("press-3", "plant", "gw-1", Some("press-3")),
            ("gw-2", "plant", "gw-2", None),
            ("oven", "plant", "gw-2", Some("oven")),
        ],
        "{text}"
    );
    assert!(
        text.contains(
            "Sparkplug B device press-3 of edge node gw-1 (group plant): temperature 21.5"
        ),
        "{text}"
    );
    assert!(
        cfg.devices[1].model.is_some(),
        "a temperature reading suggests a model: {text}"
    );
}

#[test]
fn odd_names_are_quoted_and_ids_kept_unique() {
    let s = vec![seen("a/b", r#"{"temp C":1.5}"#), seen("a-b", r#"{"x":1}"#)];
    let text = starter_config(&s, "f", None);
    let cfg = MirrorConfig::parse(&text, "d.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ids: Vec<&str> = cfg.devices.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, vec!["a-b", "a-b-2"]);
}
