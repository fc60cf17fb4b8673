//! Recognising ESPHome nodes in the traffic: `<node>/status` beside
//! `<node>/sensor|switch|binary_sensor/<id>/state`.

use crate::adapter::config::AdapterConfig;
use crate::adapter::dispatch::Adapter;
use crate::discover::scan::{Found, Scan, decode_all, quote, reading_list};
use std::collections::{BTreeMap, BTreeSet};

/// Add every ESPHome node seen.
pub(crate) fn find(scan: &mut Scan<'_>) {
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    for s in scan.seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        if let [node @ .., "sensor" | "switch" | "binary_sensor", _, "state"] = &levels[..]
            && !node.is_empty()
        {
            let node = node.join("/");
            if scan
                .by_topic
                .contains_key(format!("{node}/status").as_str())
            {
                nodes.insert(node);
            }
        }
    }
    for node in &nodes {
        let cfg = AdapterConfig::Esphome {
            node: node.clone(),
            readings: BTreeMap::new(),
        };
        let (readings, topics) = decode_all(&cfg, scan.seen);
        scan.claimed.extend(topics);
        // Everything else under the node (debug, commands, discovery) is ESPHome's too.
        scan.claim_prefix(&format!("{node}/"));
        scan.known
            .push((format!("ESPHome node {node}"), Adapter::new(cfg)));
        scan.found.push(Found {
            id: node.clone(),
            lines: vec![
                "adapter = \"esphome\"".into(),
                format!("node = {}", quote(node)),
            ],
            comment: format!("ESPHome node {node}{}", reading_list(&readings)),
        });
    }
}
