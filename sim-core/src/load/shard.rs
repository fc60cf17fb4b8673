//! Sharding a run over processes, and keeping their client ids apart.

use crate::load::error::LoadError;
use std::ops::Range;

/// `--shard i/N`: this process runs the i-th of N disjoint slices of the clients, so N
/// processes (or Kubernetes pods) together run what one would, with disjoint client
/// ids, device indices and topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Zero-based slice index.
    pub index: usize,
    /// Number of slices.
    pub count: usize,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// Parse `"i/N"` with `0 <= i < N`.
    pub fn parse(s: &str) -> Result<Shard, LoadError> {
        let bad = || LoadError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// `"i/N"` for the reports, or `None` for an unsharded run.
    pub fn label(&self) -> Option<String> {
        (self.count > 1).then(|| format!("{}/{}", self.index, self.count))
    }

    /// This shard's slice of `total` items (contiguous; the slices of all shards
    /// partition `0..total`).
    pub fn range(&self, total: usize) -> Range<usize> {
        let at = |k: usize| total * k / self.count;
        at(self.index)..at(self.index + 1)
    }
}

/// A tag that keeps this process's client ids apart from another's on the same broker.
pub fn run_tag() -> String {
    use rand::RngExt as _;
    format!("{:06x}", rand::rng().random::<u32>() & 0xff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_clients() {
        for total in [0, 1, 7, 100, 1001] {
            for n in 1..=5 {
                let mut covered = Vec::new();
                for i in 0..n {
                    covered.extend(Shard { index: i, count: n }.range(total));
                }
                assert_eq!(covered, (0..total).collect::<Vec<_>>(), "{total} over {n}");
            }
        }
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("1/0").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
