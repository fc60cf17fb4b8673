//! `twin mirror --discover`: listen to everything a broker carries for a while, recognise
//! the conventions devices follow (Tasmota, ESPHome, Homie, Sparkplug B, Home Assistant
//! MQTT discovery, generic JSON), and write a starter configuration that `twin mirror`
//! accepts as it is.

mod homeassistant;

use crate::adapter::json::decode::NOT_READINGS as JSON_BOOKKEEPING;
use crate::adapter::{Adapter, Outcome};
use crate::config::{AdapterConfig, SparkplugConfig};
use crate::error::BridgeError;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use serde_json::Value;
use sim_core::transport::endpoint::Endpoint;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The last message seen on one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// Topic.
    pub topic: String,
    /// Last payload (at most [`KEEP`] bytes of it).
    pub payload: Vec<u8>,
    /// Messages seen on it.
    pub count: u64,
}

/// Bytes of each payload kept for classification.
pub const KEEP: usize = 4096;

/// Subscribe to `#` for `duration` and collect the last message of every topic.
pub async fn listen(
    endpoint: &Endpoint,
    url: &str,
    duration: Duration,
) -> Result<Vec<Seen>, BridgeError> {
    let mut mo = endpoint.options(format!("twin-discover-{}", std::process::id()));
    mo.set_keep_alive(Duration::from_secs(30));
    mo.set_max_packet_size(crate::session::MAX_INCOMING, 64 * 1024);
    let (client, mut eventloop) = AsyncClient::new(mo, 16);
    let end = Instant::now() + duration;
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut connected = false;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, eventloop.poll()).await {
            Err(_) => break,
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                connected = true;
                client
                    .subscribe("#", QoS::AtMostOnce)
                    .await
                    .map_err(|e| BridgeError::Broker {
                        url: url.into(),
                        message: e.to_string(),
                    })?;
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                let e = seen.entry(p.topic.clone()).or_insert_with(|| Seen {
                    topic: p.topic.clone(),
                    payload: Vec::new(),
                    count: 0,
                });
                e.count += 1;
                e.payload = p.payload[..p.payload.len().min(KEEP)].to_vec();
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                if !connected {
                    return Err(BridgeError::Broker {
                        url: url.into(),
                        message: e.to_string(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    let _ = client.disconnect().await;
    Ok(seen.into_values().collect())
}

/// A device recognised in the traffic.
#[derive(Debug, Clone, PartialEq)]
struct Found {
    id: String,
    lines: Vec<String>,
    comment: String,
}

/// A starter configuration for what was seen: one `[[device]]` per recognised device.
pub fn starter_config(seen: &[Seen], fleet: &str, broker: Option<&str>) -> String {
    let by_topic: BTreeMap<&str, &Seen> = seen.iter().map(|s| (s.topic.as_str(), s)).collect();
    let mut claimed: BTreeSet<&str> = BTreeSet::new();
    let mut found: Vec<Found> = Vec::new();
    // What each convention found, to tell a device announced twice (ESPHome and Tasmota
    // also announce themselves by Home Assistant discovery).
    let mut known: Vec<(String, Adapter)> = Vec::new();

    // Tasmota: its discovery message names the topic; tele/<t>/… shows it too.
    let mut tasmota: BTreeSet<String> = BTreeSet::new();
    for s in seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        match levels[..] {
            ["tasmota", "discovery", _, "config"] => {
                if let Ok(v) = serde_json::from_slice::<Value>(&s.payload)
                    && let Some(t) = v.get("t").and_then(Value::as_str)
                {
                    tasmota.insert(t.to_string());
                }
                claimed.insert(&s.topic);
            }
            ["tasmota", "discovery", ..] => {
                claimed.insert(&s.topic);
            }
            [
                "tele",
                t,
                "LWT" | "STATE" | "SENSOR" | "INFO1" | "INFO2" | "INFO3",
            ] => {
                tasmota.insert(t.to_string());
            }
            _ => {}
        }
    }
    for t in &tasmota {
        let cfg = AdapterConfig::Tasmota { topic: t.clone() };
        let (readings, topics) = decode_all(&cfg, seen);
        claimed.extend(topics);
        let mut lines = vec![
            "adapter = \"tasmota\"".to_string(),
            format!("topic = {}", quote(t)),
        ];
        lines.extend(model_line(&readings));
        known.push((format!("Tasmota device {t}"), Adapter::new(cfg)));
        found.push(Found {
            id: t.clone(),
            lines,
            comment: format!("Tasmota device {t}{}", reading_list(&readings)),
        });
    }

    // ESPHome: <node>/status beside <node>/sensor|switch|binary_sensor/<id>/state.
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for s in seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        if let [node @ .., "sensor" | "switch" | "binary_sensor", _, "state"] = &levels[..]
            && !node.is_empty()
        {
            let node = node.join("/");
            if by_topic.contains_key(format!("{node}/status").as_str()) {
                nodes.insert(node);
            }
        }
    }
    for node in &nodes {
        let cfg = AdapterConfig::Esphome {
            node: node.clone(),
            readings: BTreeMap::new(),
        };
        let (readings, topics) = decode_all(&cfg, seen);
        claimed.extend(topics);
        // Everything else under the node (debug, commands, discovery) is ESPHome's too.
        for s in seen
            .iter()
            .filter(|s| s.topic.starts_with(&format!("{node}/")))
        {
            claimed.insert(&s.topic);
        }
        known.push((format!("ESPHome node {node}"), Adapter::new(cfg)));
        found.push(Found {
            id: node.clone(),
            lines: vec![
                "adapter = \"esphome\"".into(),
                format!("node = {}", quote(node)),
            ],
            comment: format!("ESPHome node {node}{}", reading_list(&readings)),
        });
    }

    // Homie 4 and 5: {base}/{device}/$state.
    let mut homie: BTreeSet<(String, String)> = BTreeSet::new();
    for s in seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        match levels[..] {
            ["homie", "5", dev, "$state"] => {
                homie.insert(("homie/5".into(), dev.to_string()));
            }
            ["homie", dev, "$state"] => {
                homie.insert(("homie".into(), dev.to_string()));
            }
            _ => {}
        }
    }
    for (base, dev) in &homie {
        let cfg = AdapterConfig::Homie {
            base: base.clone(),
            device_id: dev.clone(),
            names: BTreeMap::new(),
        };
        let (readings, _) = decode_all(&cfg, seen);
        let prefix = format!("{base}/{dev}/");
        for s in seen.iter().filter(|s| s.topic.starts_with(&prefix)) {
            claimed.insert(&s.topic);
        }
        let mut lines = vec![
            "adapter = \"homie\"".to_string(),
            format!("device_id = {}", quote(dev)),
        ];
        if base != "homie" {
            lines.push(format!("base = {}", quote(base)));
        }
        let what = format!(
            "Homie {} device {dev}",
            if base == "homie" { "4" } else { "5" }
        );
        found.push(Found {
            id: dev.clone(),
            lines,
            comment: format!("{what}{}", reading_list(&readings)),
        });
        known.push((what, Adapter::new(cfg)));
    }

    // Sparkplug B: spBv1.0/{group}/NBIRTH|NDATA|NDEATH/{node} and
    // spBv1.0/{group}/DBIRTH|DDATA|DDEATH/{node}/{device}. Sparkplug never retains a
    // BIRTH, so a node or device is found when it is born while we listen, or else from
    // its DATA (or DEATH) topics; without the BIRTH, DATA that carries only aliases cannot
    // be read, and the comment lists no readings. Every one of its devices implies the
    // edge node, which is mirrored too (its online state is its devices').
    let mut sparkplug: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
    let mut births_first: Vec<Seen> = Vec::new();
    for s in seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        match levels[..] {
            [
                crate::adapter::sparkplug::proto::NAMESPACE,
                g,
                kind,
                n,
                ref rest @ ..,
            ] if matches!(
                (kind, rest.len()),
                ("NBIRTH" | "NDATA" | "NDEATH", 0) | ("DBIRTH" | "DDATA" | "DDEATH", 1)
            ) =>
            {
                sparkplug.insert((g.to_string(), n.to_string(), None));
                if let [d] = rest {
                    sparkplug.insert((g.to_string(), n.to_string(), Some(d.to_string())));
                }
                births_first.push(s.clone());
                claimed.insert(&s.topic);
            }
            [crate::adapter::sparkplug::proto::NAMESPACE, ..] => {
                claimed.insert(&s.topic);
            }
            _ => {}
        }
    }
    // The BIRTH first, so that DATA by alias reads.
    births_first.sort_by_key(|s| !s.topic.contains("BIRTH/"));
    for (group, node, device) in &sparkplug {
        let cfg = AdapterConfig::Sparkplug(SparkplugConfig {
            group: group.clone(),
            edge_node: node.clone(),
            device: device.clone(),
            readings: BTreeMap::new(),
            state: BTreeMap::new(),
        });
        let (readings, _) = decode_all(&cfg, &births_first);
        let mut lines = vec![
            "adapter = \"sparkplug\"".to_string(),
            format!("group = {}", quote(group)),
            format!("edge_node = {}", quote(node)),
        ];
        let what = match device {
            Some(d) => {
                lines.push(format!("device = {}", quote(d)));
                format!("Sparkplug B device {d} of edge node {node} (group {group})")
            }
            None => format!("Sparkplug B edge node {node} (group {group})"),
        };
        lines.extend(model_line(&readings));
        found.push(Found {
            id: device.clone().unwrap_or_else(|| node.clone()),
            lines,
            comment: format!("{what}{}", reading_list(&readings)),
        });
        known.push((what, Adapter::new(cfg)));
    }

    // Home Assistant discovery: before generic JSON, which would take a device's JSON
    // state topic for a device of its own.
    let ha = homeassistant::find(seen, &known);
    claimed.extend(ha.claimed);
    found.extend(ha.found);

    // Generic JSON: an object with numbers in it on a topic nobody claimed.
    let discovery_prefix = format!("{}/", homeassistant::PREFIX);
    for s in seen {
        if claimed.contains(s.topic.as_str())
            || s.topic.starts_with('$')
            || s.topic.starts_with(&discovery_prefix)
            || s.topic.contains("/shadow")
            // A running mirror's own bridging of a serial port, already mirrored.
            || crate::serial::is_bridge_topic(&s.topic)
        {
            continue;
        }
        let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&s.payload) else {
            continue;
        };
        let numbers: Vec<&String> = o
            .iter()
            .filter(|(k, v)| {
                !JSON_BOOKKEEPING.contains(&k.as_str()) && v.as_f64().is_some_and(f64::is_finite)
            })
            .map(|(k, _)| k)
            .collect();
        if numbers.is_empty() {
            continue;
        }
        let switches: Vec<&String> = o
            .iter()
            .filter(|(_, v)| v.is_boolean())
            .map(|(k, _)| k)
            .collect();
        let payload_id = o
            .get("device_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let dir = s.topic.rsplit_once('/').map(|(d, _)| d.to_string());
        let id = payload_id
            .clone()
            .unwrap_or_else(|| s.topic.replace('/', "-"));
        let mut lines = vec![
            "adapter = \"json\"".to_string(),
            format!("topic = {}", quote(&s.topic)),
        ];
        if let Some(pid) = &payload_id {
            lines.push("id_pointer = \"/device_id\"".into());
            lines.push(format!("source_id = {}", quote(pid)));
        }
        lines.push(format!("readings = {}", pointer_table(&numbers)));
        if !switches.is_empty() {
            lines.push(format!("state = {}", pointer_table(&switches)));
        }
        if let Some(dir) = &dir {
            let status = format!("{dir}/status");
            if let Some(st) = by_topic.get(status.as_str())
                && std::str::from_utf8(&st.payload).is_ok_and(|p| {
                    matches!(p.trim().to_ascii_lowercase().as_str(), "online" | "offline")
                })
            {
                lines.push(format!("status_topic = {}", quote(&status)));
                claimed.insert(st.topic.as_str());
            }
            lines.push(format!(
                "# command_topic = {}   # where the firmware takes {{\"set\":{{...}}}}, if it does",
                quote(&format!("{dir}/cmd"))
            ));
        }
        let readings: Vec<(String, f64)> = numbers
            .iter()
            .filter_map(|k| Some(((*k).clone(), o.get(*k)?.as_f64()?)))
            .collect();
        lines.extend(model_line(&readings));
        found.push(Found {
            id,
            lines,
            comment: format!("JSON on {}{}", s.topic, reading_list(&readings)),
        });
    }

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Starter mirror config written by `twin mirror --discover`."
    );
    let _ = writeln!(
        out,
        "# {} device(s) recognised in {} topic(s).",
        found.len(),
        seen.len()
    );
    let _ = writeln!(out, "[mirror]");
    let _ = writeln!(out, "fleet = {}", quote(fleet));
    if let Some(b) = broker {
        let _ = writeln!(out, "broker = {}", quote(b));
    }
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for f in &found {
        let mut id = sanitise(&f.id);
        let base = id.clone();
        let mut n = 2;
        while !ids.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let _ = writeln!(out, "\n# {}", f.comment);
        let _ = writeln!(out, "[[device]]");
        let _ = writeln!(out, "id = {}", quote(&id));
        for l in &f.lines {
            let _ = writeln!(out, "{l}");
        }
    }
    if !ha.notes.is_empty() {
        let _ = writeln!(out, "\n# Home Assistant discovery not mirrored:");
        for n in &ha.notes {
            let _ = writeln!(out, "#   {n}");
        }
    }
    out
}

/// Every reading the adapter finds in the seen messages, and the topics it read.
fn decode_all<'a>(cfg: &AdapterConfig, seen: &'a [Seen]) -> (Vec<(String, f64)>, Vec<&'a str>) {
    let mut a = Adapter::new(cfg.clone());
    let mut readings: Vec<(String, f64)> = Vec::new();
    let mut topics = Vec::new();
    for s in seen {
        if !a.wants(&s.topic) {
            continue;
        }
        topics.push(s.topic.as_str());
        if let Outcome::Events(ev) = a.decode(&s.topic, &s.payload, KEEP) {
            for e in ev {
                if let crate::adapter::Event::Reading(n, v) = e
                    && !readings.iter().any(|(m, _)| *m == n)
                {
                    readings.push((n, v));
                }
            }
        }
    }
    (readings, topics)
}

fn model_line(readings: &[(String, f64)]) -> Option<String> {
    let has = |k: &str| readings.iter().any(|(n, _)| n == k);
    (has("temperature") || has("power")).then(|| {
        format!(
            "model = {}",
            quote(sim_core::ingest::guess_model(readings).name())
        )
    })
}

fn reading_list(readings: &[(String, f64)]) -> String {
    if readings.is_empty() {
        return String::new();
    }
    let r: Vec<String> = readings.iter().map(|(n, v)| format!("{n} {v}")).collect();
    format!(": {}", r.join(", "))
}

fn pointer_table(keys: &[&String]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .map(|k| {
            format!(
                "{} = {}",
                bare_or_quoted(k),
                quote(&format!("/{}", k.replace('~', "~0").replace('/', "~1")))
            )
        })
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

fn bare_or_quoted(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        k.to_string()
    } else {
        quote(k)
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A device id from a topic or name: no '/', '+', '#'.
fn sanitise(s: &str) -> String {
    let id: String = s
        .chars()
        .map(|c| {
            if matches!(c, '/' | '+' | '#') || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    if id.is_empty() { "device".into() } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MirrorConfig;

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
}
