//! Recognising generic JSON devices in the traffic: an object with numbers in it on a
//! topic no other convention claimed. Runs last, after every other convention.

use crate::adapter::homeassistant::announced::PREFIX as HA_PREFIX;
use crate::adapter::json::decode::NOT_READINGS;
use crate::adapter::serial::topics::is_bridge_topic;
use crate::discover::listen::Seen;
use crate::discover::scan::{Found, Scan, model_line, pointer_table, quote, reading_list};
use serde_json::{Map, Value};

/// Add every JSON device seen on a topic nobody claimed.
pub(crate) fn find(scan: &mut Scan<'_>) {
    let discovery_prefix = format!("{HA_PREFIX}/");
    for s in scan.seen {
        if scan.claimed.contains(s.topic.as_str())
            || s.topic.starts_with('$')
            || s.topic.starts_with(&discovery_prefix)
            || s.topic.contains("/shadow")
            // A running mirror's own bridging of a serial port, already mirrored.
            || is_bridge_topic(&s.topic)
        {
            continue;
        }
        let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(&s.payload) else {
            continue;
        };
        if let Some(f) = device(scan, s, &o) {
            scan.found.push(f);
        }
    }
}

/// The device publishing object `o` on `s.topic`, if the object has readings; claims
/// its status topic.
fn device(scan: &mut Scan<'_>, s: &Seen, o: &Map<String, Value>) -> Option<Found> {
    let numbers: Vec<&String> = o
        .iter()
        .filter(|(k, v)| {
            !NOT_READINGS.contains(&k.as_str()) && v.as_f64().is_some_and(f64::is_finite)
        })
        .map(|(k, _)| k)
        .collect();
    if numbers.is_empty() {
        return None;
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
    if let Some((dir, _)) = s.topic.rsplit_once('/') {
        lines.extend(status_and_command(scan, dir));
    }
    let readings: Vec<(String, f64)> = numbers
        .iter()
        .filter_map(|k| Some(((*k).clone(), o.get(*k)?.as_f64()?)))
        .collect();
    lines.extend(model_line(&readings));
    Some(Found {
        id,
        lines,
        comment: format!("JSON on {}{}", s.topic, reading_list(&readings)),
    })
}

/// `status_topic` when `{dir}/status` says online or offline (and claim it), and the
/// `command_topic` the firmware may take, commented out.
fn status_and_command(scan: &mut Scan<'_>, dir: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let status = format!("{dir}/status");
    if let Some(st) = scan.by_topic.get(status.as_str()).copied()
        && std::str::from_utf8(&st.payload)
            .is_ok_and(|p| matches!(p.trim().to_ascii_lowercase().as_str(), "online" | "offline"))
    {
        lines.push(format!("status_topic = {}", quote(&status)));
        scan.claimed.insert(st.topic.as_str());
    }
    lines.push(format!(
        "# command_topic = {}   # where the firmware takes {{\"set\":{{...}}}}, if it does",
        quote(&format!("{dir}/cmd"))
    ));
    lines
}
