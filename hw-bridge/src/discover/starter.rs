//! The starter configuration: each convention's discovery run over the seen messages
//! in turn, and the file written from what they recognised.

use crate::adapter::esphome::discover as esphome;
use crate::adapter::homeassistant::discover as homeassistant;
use crate::adapter::homie::discover as homie;
use crate::adapter::json::discover as json;
use crate::adapter::sparkplug::discover as sparkplug;
use crate::adapter::tasmota::discover as tasmota;
use crate::discover::listen::Seen;
use crate::discover::scan::{Scan, quote, sanitise};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// A starter configuration for what was seen: one `[[device]]` per recognised device.
pub fn starter_config(seen: &[Seen], fleet: &str, broker: Option<&str>) -> String {
    let mut scan = Scan::new(seen);
    tasmota::find(&mut scan);
    esphome::find(&mut scan);
    homie::find(&mut scan);
    sparkplug::find(&mut scan);
    // Home Assistant discovery before generic JSON, which would take a device's JSON
    // state topic for a device of its own.
    homeassistant::find(&mut scan);
    json::find(&mut scan);
    write(&scan, fleet, broker)
}

/// The file: `[mirror]`, each device under its comment with a unique id, and the notes.
fn write(scan: &Scan<'_>, fleet: &str, broker: Option<&str>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Starter mirror config written by `twin mirror --discover`."
    );
    let (devices, topics) = (scan.found.len(), scan.seen.len());
    let _ = writeln!(
        out,
        "# {devices} {} recognised in {topics} {}.",
        if devices == 1 { "device" } else { "devices" },
        if topics == 1 { "topic" } else { "topics" }
    );
    let _ = writeln!(out, "[mirror]");
    let _ = writeln!(out, "fleet = {}", quote(fleet));
    if let Some(b) = broker {
        let _ = writeln!(out, "broker = {}", quote(b));
    }
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for f in &scan.found {
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
    if !scan.notes.is_empty() {
        let _ = writeln!(out, "\n# Home Assistant discovery not mirrored:");
        for n in &scan.notes {
            let _ = writeln!(out, "#   {n}");
        }
    }
    out
}

#[cfg(test)]
#[path = "starter_tests.rs"]
mod tests;
