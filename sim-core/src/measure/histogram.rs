//! The text form of a latency histogram that reports carry, so shard reports merge
//! exactly.

use super::latency::latency_histogram;

/// A microsecond histogram as text: base64 of its HdrHistogram V2 (deflate) encoding,
/// the form the HdrHistogram log tools read. Reports carry their histograms this way so
/// shard reports can be merged exactly.
pub fn histogram_to_base64(h: &hdrhistogram::Histogram<u64>) -> String {
    use base64::Engine as _;
    use hdrhistogram::serialization::Serializer as _;
    let mut buf = Vec::new();
    // Serialising into a Vec cannot fail for a histogram made by `latency_histogram`.
    let _ = hdrhistogram::serialization::V2DeflateSerializer::new().serialize(h, &mut buf);
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// The inverse of [`histogram_to_base64`], checked.
pub fn histogram_from_base64(s: &str) -> Result<hdrhistogram::Histogram<u64>, String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))?;
    let mut out = latency_histogram();
    out.add(&h)
        .map_err(|e| format!("histogram out of range: {e:?}"))?;
    Ok(out)
}
