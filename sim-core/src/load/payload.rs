//! The load payload: each message carries its device (publisher) index, its `seq` and
//! its intended and actual send times, so the counting subscriber measures loss,
//! duplicates, reordering and latency exactly. Binary (a 32-byte header, then padding)
//! or JSON (the accounting as the object's first member, `"twl"`).

/// Payload header: magic, publisher, seq, intended µs, sent µs.
pub const HEADER: usize = 4 + 4 + 8 + 8 + 8;
const MAGIC: &[u8; 4] = b"TWL1";

/// Encode a load payload.
pub fn encode(publisher: u32, seq: u64, intended_us: u64, sent_us: u64, size: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(size.max(HEADER));
    encode_into(&mut b, publisher, seq, intended_us, sent_us, size);
    b
}

/// As [`encode`], appending to `b` (publishers reuse one buffer).
pub fn encode_into(
    b: &mut Vec<u8>,
    publisher: u32,
    seq: u64,
    intended_us: u64,
    sent_us: u64,
    size: usize,
) {
    let start = b.len();
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&publisher.to_le_bytes());
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&intended_us.to_le_bytes());
    b.extend_from_slice(&sent_us.to_le_bytes());
    b.resize(start + size.max(HEADER), b'.');
}

/// The key a JSON load payload starts with: `{"twl":"publisher.seq.intended.sent",...`.
const JSON_KEY: &[u8] = b"{\"twl\":\"";

/// Encode a load payload whose body is a JSON object (`template`, e.g. realistic
/// telemetry): the accounting goes in as its first member, so the payload stays JSON
/// that a broker's rule engine or a downstream consumer can parse.
pub fn encode_json(
    publisher: u32,
    seq: u64,
    intended_us: u64,
    sent_us: u64,
    template: &str,
) -> Vec<u8> {
    let mut b = Vec::new();
    encode_json_into(&mut b, publisher, seq, intended_us, sent_us, template);
    b
}

/// As [`encode_json`], appending to `b`.
pub fn encode_json_into(
    b: &mut Vec<u8>,
    publisher: u32,
    seq: u64,
    intended_us: u64,
    sent_us: u64,
    template: &str,
) {
    use std::io::Write as _;
    let rest = template
        .trim_start()
        .strip_prefix('{')
        .unwrap_or("}")
        .trim_start();
    let sep = if rest.starts_with('}') { "" } else { "," };
    // Writing into a Vec cannot fail.
    let _ = write!(
        b,
        "{{\"twl\":\"{publisher}.{seq}.{intended_us}.{sent_us}\"{sep}{rest}"
    );
}

/// Decode a load payload, binary or JSON: (publisher, seq, intended µs, sent µs).
pub fn decode(b: &[u8]) -> Option<(u32, u64, u64, u64)> {
    if let Some(rest) = b.strip_prefix(JSON_KEY) {
        let end = rest.iter().position(|c| *c == b'"')?;
        let text = std::str::from_utf8(&rest[..end]).ok()?;
        let mut it = text.split('.');
        let mut next = || it.next().and_then(|v| v.parse::<u64>().ok());
        let publisher = u32::try_from(next()?).ok()?;
        return Some((publisher, next()?, next()?, next()?));
    }
    if b.len() < HEADER || &b[..4] != MAGIC {
        return None;
    }
    let u32_at = |i: usize| {
        b.get(i..i + 4)
            .and_then(|s| s.try_into().ok())
            .map(u32::from_le_bytes)
    };
    let u64_at = |i: usize| {
        b.get(i..i + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
    };
    Some((u32_at(4)?, u64_at(8)?, u64_at(16)?, u64_at(24)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_header_round_trips_and_pads() {
        let b = encode(7, 42, 1_000, 1_500, 100);
        assert_eq!(b.len(), 100);
        assert_eq!(decode(&b), Some((7, 42, 1_000, 1_500)));
        assert_eq!(encode(1, 2, 3, 4, 0).len(), HEADER);
        assert_eq!(decode(b"TWL1short"), None);
        assert_eq!(decode(&[0u8; 64]), None);
    }

    #[test]
    fn json_payloads_carry_the_accounting_and_stay_json() {
        let b = encode_json(3, 9, 100, 150, r#"{"temperature": 21.5, "unit": "C"}"#);
        let v: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
        assert_eq!(v["temperature"], 21.5);
        assert_eq!(v["twl"], "3.9.100.150");
        assert_eq!(decode(&b), Some((3, 9, 100, 150)));
        let empty = encode_json(1, 2, 3, 4, "{}");
        assert_eq!(empty, br#"{"twl":"1.2.3.4"}"#);
        assert_eq!(decode(br#"{"twl":"1.x.3.4"}"#), None);
        assert_eq!(decode(br#"{"temperature": 1}"#), None);
    }
}
