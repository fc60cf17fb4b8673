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

/// Why a histogram's text form does not read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// Not base64 at all.
    #[error("histogram is not base64: {0}")]
    Base64(String),
    /// Base64, but not an HdrHistogram V2 encoding.
    #[error("histogram does not decode: {0}")]
    Decode(String),
    /// A histogram whose values do not fit [`latency_histogram`]'s bounds.
    #[error("histogram out of range: {0}")]
    Range(String),
}

/// The inverse of [`histogram_to_base64`], checked.
pub fn histogram_from_base64(s: &str) -> Result<hdrhistogram::Histogram<u64>, HistogramError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .map_err(|e| HistogramError::Base64(e.to_string()))?;
    let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| HistogramError::Decode(format!("{e:?}")))?;
    let mut out = latency_histogram();
    out.add(&h)
        .map_err(|e| HistogramError::Range(format!("{e:?}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_their_text_form() {
        let mut h = latency_histogram();
        for us in [1, 250, 9_000, 3_600_000_000] {
            h.record(us).unwrap();
        }
        let back = histogram_from_base64(&histogram_to_base64(&h)).unwrap();
        assert_eq!((back.len(), back.max(), back.min()), (4, h.max(), 1));
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert!(matches!(
            histogram_from_base64("not base64!"),
            Err(HistogramError::Base64(_))
        ));
        // Valid base64 of bytes that are no histogram.
        assert!(matches!(
            histogram_from_base64("AAAA"),
            Err(HistogramError::Decode(_))
        ));
    }
}
