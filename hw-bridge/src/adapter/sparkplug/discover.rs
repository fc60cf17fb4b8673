//! Recognising Sparkplug B edge nodes and devices in the traffic:
//! `spBv1.0/{group}/NBIRTH|NDATA|NDEATH/{node}` and
//! `spBv1.0/{group}/DBIRTH|DDATA|DDEATH/{node}/{device}`.
//!
//! Sparkplug never retains a BIRTH, so a node or device is found when it is born while
//! we listen, or else from its DATA (or DEATH) topics; without the BIRTH, DATA that
//! carries only aliases cannot be read, and the comment lists no readings. Every one of
//! its devices implies the edge node, which is mirrored too (its online state is its
//! devices').

use crate::adapter::config::AdapterConfig;
use crate::adapter::dispatch::Adapter;
use crate::adapter::sparkplug::config::SparkplugConfig;
use crate::adapter::sparkplug::proto::NAMESPACE;
use crate::discover::listen::Seen;
use crate::discover::scan::{Found, Scan, decode_all, model_line, quote, reading_list};
use std::collections::{BTreeMap, BTreeSet};

/// (group, edge node, device) of a node or one of its devices.
type Ids = (String, String, Option<String>);

/// Add every Sparkplug node and device seen.
pub(crate) fn find(scan: &mut Scan<'_>) {
    let (ids, births_first) = collect(scan);
    for (group, node, device) in &ids {
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
        scan.found.push(Found {
            id: device.clone().unwrap_or_else(|| node.clone()),
            lines,
            comment: format!("{what}{}", reading_list(&readings)),
        });
        scan.known.push((what, Adapter::new(cfg)));
    }
}

/// The nodes and devices the topics name, and their messages with the BIRTHs first, so
/// that DATA by alias reads. Claims every topic in the Sparkplug namespace.
fn collect(scan: &mut Scan<'_>) -> (BTreeSet<Ids>, Vec<Seen>) {
    let mut ids: BTreeSet<Ids> = BTreeSet::new();
    let mut births_first: Vec<Seen> = Vec::new();
    for s in scan.seen {
        let levels: Vec<&str> = s.topic.split('/').collect();
        match levels[..] {
            [NAMESPACE, g, kind, n, ref rest @ ..]
                if matches!(
                    (kind, rest.len()),
                    ("NBIRTH" | "NDATA" | "NDEATH", 0) | ("DBIRTH" | "DDATA" | "DDEATH", 1)
                ) =>
            {
                ids.insert((g.to_string(), n.to_string(), None));
                if let [d] = rest {
                    ids.insert((g.to_string(), n.to_string(), Some(d.to_string())));
                }
                births_first.push(s.clone());
                scan.claimed.insert(&s.topic);
            }
            [NAMESPACE, ..] => {
                scan.claimed.insert(&s.topic);
            }
            _ => {}
        }
    }
    births_first.sort_by_key(|s| !s.topic.contains("BIRTH/"));
    (ids, births_first)
}
