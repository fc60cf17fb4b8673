//! A device shadow with AWS IoT Device Shadow semantics: `desired` (what the user asked
//! for), `reported` (what the device last said), `delta` (desired keys the device has not
//! confirmed yet), and a `version` that grows with every change. An update that names a
//! version other than the current one is refused, so two people setting the same device
//! do not silently overwrite each other.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpdateError {
    /// The update named a version that is not the current one.
    #[error("version conflict: the update is for version {expected}, the shadow is at {current}")]
    Conflict {
        /// The version the update named.
        expected: u64,
        /// The shadow's version.
        current: u64,
    },
    /// Nothing to change.
    #[error("the update sets nothing: expected {{\"state\":{{\"desired\":{{...}}}}}}")]
    Empty,
}

/// One device's shadow.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shadow {
    /// What the user asked for.
    pub desired: Map<String, Value>,
    /// What the device last reported.
    pub reported: Map<String, Value>,
    /// Grows by one with every change of `desired` or `reported`.
    pub version: u64,
    /// Desired keys not yet confirmed, and when they must be (seconds).
    pending: BTreeMap<String, f64>,
}

impl Shadow {
    /// Desired keys whose reported value differs (or is missing).
    pub fn delta(&self) -> Map<String, Value> {
        self.desired
            .iter()
            .filter(|(k, v)| {
                !self
                    .reported
                    .get(*k)
                    .is_some_and(|r| crate::value::same(v, r))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Merge a desired state (a `null` value removes the key), checking `expected_version`
    /// when given. Keys left in the delta must be confirmed by `deadline`. Returns the new
    /// version.
    pub fn desire(
        &mut self,
        desired: &Map<String, Value>,
        expected_version: Option<u64>,
        deadline: f64,
    ) -> Result<u64, UpdateError> {
        if let Some(v) = expected_version
            && v != self.version
        {
            return Err(UpdateError::Conflict {
                expected: v,
                current: self.version,
            });
        }
        if desired.is_empty() {
            return Err(UpdateError::Empty);
        }
        for (k, v) in desired {
            if v.is_null() {
                self.desired.remove(k);
                self.pending.remove(k);
            } else {
                self.desired.insert(k.clone(), crate::value::normalise(v));
            }
        }
        for k in self.delta().keys() {
            if desired.contains_key(k) {
                self.pending.insert(k.clone(), deadline);
            }
        }
        self.version += 1;
        Ok(self.version)
    }

    /// The device reported `key = value`. Returns whether anything changed, and the keys
    /// this confirmed (they leave the delta).
    pub fn report(&mut self, key: &str, value: &Value) -> (bool, Vec<String>) {
        let value = crate::value::normalise(value);
        if self.reported.get(key) == Some(&value) {
            return (false, Vec::new());
        }
        self.reported.insert(key.to_string(), value);
        self.version += 1;
        let delta = self.delta();
        let confirmed: Vec<String> = self
            .pending
            .keys()
            .filter(|k| !delta.contains_key(*k))
            .cloned()
            .collect();
        for k in &confirmed {
            self.pending.remove(k);
        }
        (true, confirmed)
    }

    /// Desired keys whose deadline passed at `now` without confirmation. Each is returned
    /// once.
    pub fn expired(&mut self, now: f64) -> Vec<String> {
        let late: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &late {
            self.pending.remove(k);
        }
        late
    }

    /// The shadow document published on `twin/{fleet}/{device}/shadow`.
    pub fn document(&self, online: bool) -> Value {
        serde_json::json!({
            "state": {
                "desired": self.desired,
                "reported": self.reported,
                "delta": self.delta(),
            },
            "version": self.version,
            "online": online,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn desired_then_reported_clears_the_delta() {
        let mut s = Shadow::default();
        assert_eq!(s.desire(&map(json!({"power": "on"})), None, 10.0), Ok(1));
        assert_eq!(s.delta(), map(json!({"power": true})));
        let (changed, confirmed) = s.report("power", &json!("ON"));
        assert!(changed);
        assert_eq!(confirmed, vec!["power".to_string()]);
        assert!(s.delta().is_empty());
        assert_eq!(s.version, 2);
        // The same report again changes nothing.
        assert_eq!(s.report("power", &json!(true)), (false, vec![]));
        assert!(s.expired(100.0).is_empty());
    }

    #[test]
    fn a_stale_version_is_refused() {
        let mut s = Shadow::default();
        s.desire(&map(json!({"power": true})), Some(0), 10.0)
            .expect("version 0 is current");
        assert_eq!(
            s.desire(&map(json!({"power": false})), Some(0), 10.0),
            Err(UpdateError::Conflict {
                expected: 0,
                current: 1
            })
        );
        assert_eq!(s.desired.get("power"), Some(&json!(true)));
        assert_eq!(s.desire(&Map::new(), None, 10.0), Err(UpdateError::Empty));
    }

    #[test]
    fn unconfirmed_keys_expire_once_and_null_removes() {
        let mut s = Shadow::default();
        s.desire(&map(json!({"power": true, "level": 3})), None, 5.0)
            .expect("ok");
        s.report("level", &json!(3));
        assert!(s.expired(4.9).is_empty());
        assert_eq!(s.expired(5.0), vec!["power".to_string()]);
        assert!(s.expired(6.0).is_empty());
        s.desire(&map(json!({"power": null})), None, 9.0)
            .expect("ok");
        assert!(s.delta().is_empty());
        let doc = s.document(true);
        assert_eq!(doc["state"]["desired"], json!({"level": 3}));
        assert_eq!(doc["online"], json!(true));
    }
}
