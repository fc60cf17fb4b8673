//! Durations written the way people write them: `"500ms"`, `"10s"`, `"5m"`, `"2h"`.

use crate::error::DurationError;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// A span of simulated (or wall) time, parsed with `humantime` from a string.
///
/// Stored as seconds in `f64` because the simulation clock is an `f64` of seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Dur(pub f64);

impl Dur {
    /// Seconds as a float.
    pub fn secs(self) -> f64 {
        self.0
    }

    /// Parse `"500ms"`, `"10s"`, `"1m 30s"`, `"2h"` and the like.
    pub fn parse(text: &str) -> Result<Dur, DurationError> {
        let trimmed = text.trim();
        if trimmed.starts_with('-') {
            return Err(DurationError::Negative { text: text.into() });
        }
        humantime::parse_duration(trimmed)
            .map(|d| Dur(d.as_secs_f64()))
            .map_err(|reason| DurationError::Invalid {
                text: text.into(),
                reason,
            })
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = std::time::Duration::from_secs_f64(self.0.max(0.0));
        write!(f, "{}", humantime::format_duration(d))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurVisitor;
        impl Visitor<'_> for DurVisitor {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string like \"500ms\", \"10s\", \"5m\" or \"2h\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                Dur::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurVisitor)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_units_users_write() {
        assert_eq!(Dur::parse("500ms").unwrap().secs(), 0.5);
        assert_eq!(Dur::parse("10s").unwrap().secs(), 10.0);
        assert_eq!(Dur::parse("5m").unwrap().secs(), 300.0);
        assert_eq!(Dur::parse("2h").unwrap().secs(), 7200.0);
        assert_eq!(Dur::parse("1m 30s").unwrap().secs(), 90.0);
    }

    #[test]
    fn rejects_garbage_and_negatives_with_the_expected_form() {
        let err = Dur::parse("ten seconds").unwrap_err().to_string();
        assert!(err.contains("\"10s\""), "{err}");
        assert!(
            Dur::parse("-5s")
                .unwrap_err()
                .to_string()
                .contains("negative")
        );
        assert!(Dur::parse("10").is_err(), "a bare number has no unit");
    }
}
