//! One recorded message, as a line of NDJSON: when it arrived (Unix seconds), its topic,
//! QoS and retain flag, and its payload (UTF-8 text as it is; anything else base64, with
//! `"binary": true`).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Receive time, Unix seconds (microsecond resolution).
    pub t: f64,
    /// The topic it was published on.
    pub topic: String,
    /// The QoS it arrived at.
    pub qos: u8,
    /// Whether it arrived as a retained message.
    pub retain: bool,
    /// The payload: the text, or base64 when `binary`.
    pub payload: String,
    /// The payload is not UTF-8 and `payload` holds its base64.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub binary: bool,
}

impl Line {
    /// A line for a message that arrived at `t`.
    pub fn new(t: f64, topic: &str, qos: u8, retain: bool, payload: &[u8]) -> Line {
        let (payload, binary) = match std::str::from_utf8(payload) {
            Ok(text) => (text.to_string(), false),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(payload),
                true,
            ),
        };
        Line {
            t,
            topic: topic.to_string(),
            qos,
            retain,
            payload,
            binary,
        }
    }

    /// Write it as one line of NDJSON.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        serde_json::to_writer(&mut *w, self).map_err(std::io::Error::from)?;
        w.write_all(b"\n")
    }

    /// The payload's bytes.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        if self.binary {
            base64::engine::general_purpose::STANDARD
                .decode(&self.payload)
                .map_err(|e| format!("payload is not base64: {e}"))
        } else {
            Ok(self.payload.clone().into_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    #[test]
    fn text_stays_text_and_bytes_round_trip_through_base64() {
        let t = Line::new(1.5, "a/b", 1, true, b"{\"x\":1}");
        assert!(!t.binary);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"t":1.5,"topic":"a/b","qos":1,"retain":true,"payload":"{\"x\":1}"}"#
        );
        let b = Line::new(2.0, "c", 0, false, &[0xff, 0x00, 0x10]);
        assert!(b.binary);
        let back: Line = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        assert_eq!(back.bytes().unwrap(), [0xff, 0x00, 0x10]);
    }
}
