//! Recognising Homie 4 and 5 devices in the traffic: `{base}/{device}/$state`.

use crate::adapter::config::AdapterConfig;
use crate::adapter::dispatch::Adapter;
use crate::discover::scan::{Found, Scan, decode_all, quote, reading_list};
use std::collections::{BTreeMap, BTreeSet};

/// Add every Homie device seen.
pub(crate) fn find(scan: &mut Scan<'_>) {
    let mut homie: BTreeSet<(String, String)> = BTreeSet::new();
    for s in scan.seen {
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
        let (readings, _) = decode_all(&cfg, scan.seen);
        scan.claim_prefix(&format!("{base}/{dev}/"));
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
        scan.found.push(Found {
            id: dev.clone(),
            lines,
            comment: format!("{what}{}", reading_list(&readings)),
        });
        scan.known.push((what, Adapter::new(cfg)));
    }
}
