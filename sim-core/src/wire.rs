//! The wire contract: telemetry payloads (flat JSON or MessagePack) and commands.
//!
//! One encoder and one decoder serve the publisher, the ingest side and the benches, so
//! what the harness measures is exactly what a backend would parse.

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

pub use crate::error::{DecodeError, EncodeError};
pub use scenarios::Encoding;

/// One reading value as devices publish it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A measured quantity.
    Float(f64),
    /// A count or raw ADC value.
    Int(i64),
    /// An on/off state.
    Bool(bool),
    /// A word: a user model's enumerated state (`"running"`). Ingest skips words: they
    /// are states to show, not quantities to count.
    Text(&'static str),
}

impl Value {
    /// As a number for statistics: booleans count as 0 and 1 (so a mean is a duty cycle).
    pub fn as_f64(self) -> f64 {
        match self {
            Value::Float(f) => f,
            Value::Int(i) => i as f64,
            Value::Bool(b) => f64::from(u8::from(b)),
            Value::Text(_) => f64::NAN,
        }
    }
}

/// What one device sends in one publish, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    /// Fleet index of the device.
    pub device: u32,
    /// Per-device message counter from 0.
    pub seq: u64,
    /// Simulated time since the start of the run, seconds.
    pub sim_time: f64,
    /// Named readings in a fixed order per model.
    pub readings: Vec<(&'static str, Value)>,
    /// The twin's noise-free value of each analysed reading: handed to the analytics
    /// core beside the wire, never published.
    pub expected: Vec<(&'static str, f64)>,
    /// Seconds added to the published timestamp (clock-skew fault).
    pub skew: f64,
    /// Publish twice (duplicate fault).
    pub duplicate: bool,
    /// Send after the device's next message (reorder fault).
    pub hold: bool,
}

/// A borrowed view that serializes to the flat payload map. Borrowed on purpose: the
/// dispatcher encodes each message straight from the sim's [`Telemetry`] and the device
/// id it already holds into one reused buffer ([`Payload::encode_into`]), so a publish
/// copies neither the id nor the readings.
pub struct Payload<'a> {
    /// `device_id`.
    pub device_id: &'a str,
    /// `seq`.
    pub seq: u64,
    /// `timestamp`: Unix seconds of simulated time.
    pub timestamp: f64,
    /// `sent_us`: wall-clock Unix microseconds at send, when requested.
    pub sent_us: Option<u64>,
    /// The readings.
    pub readings: &'a [(&'static str, Value)],
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = 3 + usize::from(self.sent_us.is_some()) + self.readings.len();
        let mut m = s.serialize_map(Some(n))?;
        m.serialize_entry("device_id", self.device_id)?;
        m.serialize_entry("seq", &self.seq)?;
        m.serialize_entry("timestamp", &self.timestamp)?;
        if let Some(us) = self.sent_us {
            m.serialize_entry("sent_us", &us)?;
        }
        for (k, v) in self.readings {
            match v {
                Value::Float(f) => m.serialize_entry(k, f)?,
                Value::Int(i) => m.serialize_entry(k, i)?,
                Value::Bool(b) => m.serialize_entry(k, b)?,
                Value::Text(w) => m.serialize_entry(k, w)?,
            }
        }
        m.end()
    }
}

impl Payload<'_> {
    /// Encode into `buf` (cleared first).
    pub fn encode_into(&self, encoding: Encoding, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        buf.clear();
        match encoding {
            Encoding::Json => {
                serde_json::to_writer(&mut *buf, self).map_err(|e| EncodeError(e.to_string()))
            }
            Encoding::MsgPack => {
                let mut ser = rmp_serde::Serializer::new(&mut *buf);
                self.serialize(&mut ser)
                    .map_err(|e| EncodeError(e.to_string()))
            }
        }
    }
}

/// A telemetry payload as the ingest side reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decoded {
    /// `device_id`.
    pub device_id: String,
    /// `seq`.
    pub seq: u64,
    /// `timestamp`, Unix seconds.
    pub timestamp: f64,
    /// `sent_us`, if the publisher put it in.
    pub sent_us: Option<u64>,
    /// Numeric and boolean readings (booleans as 0/1); strings and nested values are skipped.
    pub readings: Vec<(String, f64)>,
}

impl Decoded {
    /// Decode a payload in the given encoding.
    pub fn decode(encoding: Encoding, bytes: &[u8]) -> Result<Decoded, DecodeError> {
        match encoding {
            Encoding::Json => {
                serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
            }
            Encoding::MsgPack => {
                rmp_serde::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
            }
        }
    }
}

/// Any scalar, used to skip or read unknown fields.
enum Scalar {
    Num(f64),
    Other,
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Num(f64::from(u8::from(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Num(v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Num(v))
            }
            fn visit_str<E>(self, _: &str) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_bytes<E>(self, _: &[u8]) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Scalar, A::Error> {
                while a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Decoded {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Decoded;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a telemetry object with device_id and seq")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Decoded, A::Error> {
                let mut out = Decoded::default();
                let (mut has_id, mut has_seq) = (false, false);
                while let Some(key) = a.next_key::<std::borrow::Cow<'de, str>>()? {
                    match key.as_ref() {
                        "device_id" => {
                            out.device_id = a.next_value::<String>()?;
                            has_id = true;
                        }
                        "seq" => {
                            out.seq = a.next_value::<u64>()?;
                            has_seq = true;
                        }
                        "timestamp" => out.timestamp = a.next_value::<f64>()?,
                        "sent_us" => out.sent_us = Some(a.next_value::<u64>()?),
                        _ => {
                            if let Scalar::Num(v) = a.next_value::<Scalar>()? {
                                out.readings.push((key.into_owned(), v));
                            }
                        }
                    }
                }
                if !has_id {
                    return Err(de::Error::missing_field("device_id"));
                }
                if !has_seq {
                    return Err(de::Error::missing_field("seq"));
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// A command as it arrives on a device's command topic: `{"set":{"on":true}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandPayload {
    /// Keys to set on the device.
    #[serde(default)]
    pub set: serde_json::Map<String, serde_json::Value>,
    /// A user model's named command (`{"command":"start"}`).
    pub command: Option<String>,
}

/// The largest remaining length an MQTT packet may have (256 MiB − 1): what a session
/// that must never lose its connection to a large message is prepared to read.
pub const MQTT_MAX_PACKET: usize = 268_435_455;

/// Wall-clock Unix time in microseconds.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The MQTT filter that matches every topic a template expands to: each level that
/// holds one of `placeholders` becomes the single-level wildcard `+` (a wildcard must be
/// a whole level). Ingest's `{device}` templates and the load engine's `%i`/`%c` ones
/// both go through it.
pub fn topic_filter(template: &str, placeholders: &[&str]) -> String {
    template
        .split('/')
        .map(|level| {
            if placeholders.iter().any(|p| level.contains(p)) {
                "+"
            } else {
                level
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(&'static str, Value)> {
        vec![
            ("temperature", Value::Float(21.37)),
            ("humidity", Value::Float(44.1)),
            ("battery", Value::Int(87)),
            ("on", Value::Bool(true)),
        ]
    }

    #[test]
    fn json_payload_is_the_flat_contract() {
        let r = sample();
        let p = Payload {
            device_id: "thermo-7",
            seq: 1042,
            timestamp: 1_732_871_200.5,
            sent_us: None,
            readings: &r,
        };
        let mut buf = Vec::new();
        p.encode_into(Encoding::Json, &mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            r#"{"device_id":"thermo-7","seq":1042,"timestamp":1732871200.5,"temperature":21.37,"humidity":44.1,"battery":87,"on":true}"#
        );
    }

    #[test]
    fn both_encodings_round_trip() {
        let r = sample();
        for enc in [Encoding::Json, Encoding::MsgPack] {
            let p = Payload {
                device_id: "d",
                seq: 3,
                timestamp: 10.25,
                sent_us: Some(99),
                readings: &r,
            };
            let mut buf = Vec::new();
            p.encode_into(enc, &mut buf).unwrap();
            let d = Decoded::decode(enc, &buf).unwrap();
            assert_eq!(d.device_id, "d");
            assert_eq!(d.seq, 3);
            assert_eq!(d.timestamp, 10.25);
            assert_eq!(d.sent_us, Some(99));
            assert_eq!(
                d.readings,
                vec![
                    ("temperature".to_string(), 21.37),
                    ("humidity".to_string(), 44.1),
                    ("battery".to_string(), 87.0),
                    ("on".to_string(), 1.0)
                ]
            );
        }
    }

    #[test]
    fn decoder_rejects_junk_and_skips_text_fields() {
        assert!(Decoded::decode(Encoding::Json, b"\x00\xff").is_err());
        assert!(Decoded::decode(Encoding::Json, br#"{"seq":1}"#).is_err());
        assert!(Decoded::decode(Encoding::Json, br#"{"device_id":"a","seq":"x"}"#).is_err());
        let d = Decoded::decode(
            Encoding::Json,
            br#"{"device_id":"a","seq":1,"unit":"Celsius","t":2.5,"nested":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(d.readings, vec![("t".to_string(), 2.5)]);
    }
}
