//! Recognising Tasmota devices in the traffic: its discovery message names the topic;
//! `tele/<t>/…` shows it too.

use crate::adapter::config::AdapterConfig;
use crate::adapter::dispatch::Adapter;
use crate::discover::scan::{Found, Scan, decode_all, model_line, quote, reading_list};
use serde_json::Value;
use std::collections::BTreeSet;

/// Add every Tasmota device seen.
pub(crate) fn find(scan: &mut Scan<'_>) {
    let mut tasmota: BTreeSet<String> = BTreeSet::new();
    for s in scan.seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        match levels[..] {
            ["tasmota", "discovery", _, "config"] => {
                if let Ok(v) = serde_json::from_slice::<Value>(&s.payload)
                    && let Some(t) = v.get("t").and_then(Value::as_str)
                {
                    tasmota.insert(t.to_string());
                }
                scan.claimed.insert(&s.topic);
            }
            ["tasmota", "discovery", ..] => {
                scan.claimed.insert(&s.topic);
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
        let (readings, topics) = decode_all(&cfg, scan.seen);
        scan.claimed.extend(topics);
        let mut lines = vec![
            "adapter = \"tasmota\"".to_string(),
            format!("topic = {}", quote(t)),
        ];
        lines.extend(model_line(&readings));
        scan.known
            .push((format!("Tasmota device {t}"), Adapter::new(cfg)));
        scan.found.push(Found {
            id: t.clone(),
            lines,
            comment: format!("Tasmota device {t}{}", reading_list(&readings)),
        });
    }
}
