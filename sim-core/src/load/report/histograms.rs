//! What the load reports share: their histograms added by name when shards merge, and
//! the default of `merged`.

use crate::load::error::LoadError;
use crate::measure::{histogram_from_base64, latency_histogram};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

/// Serde default of the reports' `merged`: a report read without it is one run.
pub fn one() -> u64 {
    1
}

/// Add a report's base64 histograms into `into`, by name (the shard merges).
pub fn add_histograms(
    into: &mut BTreeMap<String, Histogram<u64>>,
    from: &BTreeMap<String, String>,
) -> Result<(), LoadError> {
    for (name, text) in from {
        let bad = |why: String| LoadError::Histogram {
            name: name.clone(),
            why,
        };
        let h = histogram_from_base64(text).map_err(|e| bad(e.to_string()))?;
        let sum = into.entry(name.clone()).or_insert_with(latency_histogram);
        sum.add(&h).map_err(|e| bad(format!("{e:?}")))?;
    }
    Ok(())
}
