//! Sharding a fleet over processes (`twin run --shard i/N`): the fleet is cut into
//! *linked sets*, devices that share physics, and whole sets are dealt to the shards.
//!
//! Two devices are linked when they are in the same *heated* environment (one that
//! holds a heater: what the heater does, every device there reads) or one names the
//! other (a thermostat's `sensor` and `heater`s, a soil probe's `irrigated_by`), or
//! they publish through the same gateway (one session, one last will); a
//! linked set is a connected component of that relation. Every random stream of the
//! engine is seeded by the scenario seed and the device's own id, and a room's physics
//! is a function of its environment, the clock and its heaters, nothing else: a room
//! without heaters is the same in every shard that simulates a copy of it, so its
//! devices need not stay together (the 10,000 sensors of one hall shard well). So a
//! device reads the same values whichever shard runs it.
//!
//! Dealing: the sets, largest first (ties: the one whose first device comes first in
//! the fleet), each go to the shard with the fewest devices so far (ties: the lowest
//! shard index). It depends on nothing but the scenario, so every process computes the
//! same partition, and no shard has more devices than another plus the largest set.

use crate::device::ModelSpec;
use crate::spec::{Scenario, ShardSpec};

/// The linked sets of the fleet: fleet indices, each set in fleet order, the sets
/// ordered by their first device.
pub fn linked_sets(s: &Scenario) -> Vec<Vec<usize>> {
    let n = s.devices.len();
    let mut parent: Vec<usize> = (0..n).collect();
    let mut first_in_env: Vec<Option<usize>> = vec![None; s.environments.len()];
    let mut heated = vec![false; s.environments.len()];
    let mut first_behind: std::collections::HashMap<&str, usize> = Default::default();
    for d in &s.devices {
        if let (ModelSpec::Heater { .. }, Some(e)) = (&d.model, d.environment) {
            heated[e] = true;
        }
    }
    for (i, d) in s.devices.iter().enumerate() {
        if let Some(e) = d.environment.filter(|&e| e < heated.len() && heated[e]) {
            match first_in_env[e] {
                Some(f) => union(&mut parent, f, i),
                None => first_in_env[e] = Some(i),
            }
        }
        for r in references(&d.model) {
            if r < n {
                union(&mut parent, i, r);
            }
        }
        if let Some(gw) = &d.gateway {
            let f = *first_behind.entry(gw.as_str()).or_insert(i);
            union(&mut parent, f, i);
        }
    }
    let mut by_root: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        let r = find(&mut parent, i);
        by_root[r].push(i);
    }
    let mut sets: Vec<Vec<usize>> = by_root.into_iter().filter(|v| !v.is_empty()).collect();
    sets.sort_by_key(|v| v[0]);
    sets
}

/// The shard (0..count) of every device, by fleet index.
pub fn assignment(s: &Scenario, count: usize) -> Vec<usize> {
    let count = count.max(1);
    let mut sets = linked_sets(s);
    sets.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    let mut load = vec![0usize; count];
    let mut shard_of = vec![0; s.devices.len()];
    for set in &sets {
        let (to, _) = load
            .iter()
            .enumerate()
            .min_by_key(|&(k, l)| (*l, k))
            .unwrap_or((0, &0));
        load[to] += set.len();
        for &i in set {
            shard_of[i] = to;
        }
    }
    shard_of
}

impl Scenario {
    /// The part of this scenario that shard `index` of `count` runs: its devices (in
    /// fleet order, references renumbered), every environment and group as they were,
    /// the events and rules that name its devices (with only those devices), and
    /// its `shard` saying where each device sits in the whole fleet. Sharding a
    /// sharded scenario shards its part again; `count` 1 gives the scenario unchanged.
    pub fn sharded(&self, index: usize, count: usize) -> Scenario {
        if count <= 1 {
            return self.clone();
        }
        let shard_of = assignment(self, count);
        let kept: Vec<usize> = (0..self.devices.len())
            .filter(|&i| shard_of[i] == index)
            .collect();
        let mut new_index = vec![None; self.devices.len()];
        for (k, &i) in kept.iter().enumerate() {
            new_index[i] = Some(k);
        }
        let renumber =
            |v: &[usize]| -> Vec<usize> { v.iter().filter_map(|&i| new_index[i]).collect() };
        let mut out = self.clone();
        out.devices = kept
            .iter()
            .map(|&i| {
                let mut d = self.devices[i].clone();
                renumber_model(&mut d.model, &new_index);
                d
            })
            .collect();
        out.events
            .iter_mut()
            .for_each(|e| e.devices = renumber(&e.devices));
        out.events.retain(|e| !e.devices.is_empty());
        out.rules
            .iter_mut()
            .for_each(|r| r.devices = renumber(&r.devices));
        out.shard = Some(ShardSpec {
            index,
            count,
            fleet_index: kept.iter().map(|&i| self.fleet_index(i)).collect(),
            others: (0..self.devices.len())
                .filter(|&i| shard_of[i] != index)
                .map(|i| self.devices[i].id.clone())
                .chain(self.shard.iter().flat_map(|s| s.others.iter().cloned()))
                .collect(),
        });
        out
    }

    /// Where device `i` of this scenario sits in the unsharded fleet.
    pub fn fleet_index(&self, i: usize) -> usize {
        self.shard
            .as_ref()
            .and_then(|s| s.fleet_index.get(i).copied())
            .unwrap_or(i)
    }
}

/// The devices a model names.
fn references(m: &ModelSpec) -> Vec<usize> {
    match m {
        ModelSpec::Thermostat {
            sensor, heaters, ..
        } => sensor.iter().chain(heaters).copied().collect(),
        ModelSpec::SoilMoisture { irrigated_by, .. } => irrigated_by.iter().copied().collect(),
        _ => Vec::new(),
    }
}

/// A model's references in the shard's numbering (a linked device is always kept).
fn renumber_model(m: &mut ModelSpec, new_index: &[Option<usize>]) {
    let map = |i: &mut usize| *i = new_index.get(*i).copied().flatten().unwrap_or(*i);
    match m {
        ModelSpec::Thermostat {
            sensor, heaters, ..
        } => {
            sensor.iter_mut().for_each(map);
            heaters.iter_mut().for_each(map);
        }
        ModelSpec::SoilMoisture { irrigated_by, .. } => irrigated_by.iter_mut().for_each(map),
        _ => {}
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        // The lower index is the root, so roots do not depend on the order of unions.
        parent[ra.max(rb)] = ra.min(rb);
    }
}

#[cfg(test)]
#[path = "shard_tests.rs"]
mod tests;
