//! The `target` of an event or rule: an exact device id, or a pattern with `*` wildcards.

use super::fleet::Fleet;

/// Fleet indices `pattern` names, in fleet order. An exact id is looked up: matching it
/// against every id made each event cost a pass over the fleet, 25 s for 200 events on the
/// largest one.
pub(super) fn targets_of(pattern: &str, fleet: &Fleet) -> Vec<usize> {
    if pattern.contains('*') {
        (0..fleet.devices.len())
            .filter(|&i| glob_match(pattern, &fleet.devices[i].id))
            .collect()
    } else {
        fleet.ids.get(pattern).map(|&i| vec![i]).unwrap_or_default()
    }
}

/// Match a target against ids: an exact id, or a pattern with `*` wildcards.
fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_prefix_suffix_and_exact() {
        assert!(glob_match("thermo-*", "thermo-12"));
        assert!(glob_match("*-1", "relay-1"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c"));
        assert!(glob_match("relay-1", "relay-1"));
        assert!(!glob_match("relay-1", "relay-10"));
    }

    // Found with a hand-written input to the scenario_parse fuzz target: each event matched
    // its target against every id, so 200 events on a 2 000 000-device fleet took 25 s.
    // Exact ids are looked up now; a target with `*` still matches every id.
    #[test]
    fn exact_targets_name_one_device_and_patterns_every_match() {
        let src = "[scenario]\nname = \"x\"\nduration = \"1m\"\n\n\
                   [[environment]]\nname = \"lab\"\n\n\
                   [[devices]]\nid = \"dht-{n}\"\nmodel = \"dht22\"\nenvironment = \"lab\"\ncount = 12\n\n\
                   [[events]]\nat = \"10s\"\ntarget = \"dht-1\"\naction = \"disconnect\"\n\n\
                   [[events]]\nat = \"20s\"\ntarget = \"dht-1*\"\naction = \"reconnect\"\n\n\
                   [[rules]]\nsensor = \"temperature\"\ntarget = \"dht-12\"\nabove = 30.0\n";
        let s = crate::parse(src, "t.toml").unwrap();
        assert_eq!(s.events[0].devices, vec![0]);
        assert_eq!(s.events[1].devices, vec![0, 9, 10, 11]);
        assert_eq!(s.rules[0].devices, vec![11]);
        let missing = src.replace("target = \"dht-1\"", "target = \"dht-13\"");
        let e = crate::parse(&missing, "t.toml").unwrap_err().to_string();
        assert!(e.contains("target \"dht-13\" matches no device"), "{e}");
    }
}
