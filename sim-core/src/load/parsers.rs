//! The lean sessions' packet parsers, for the fuzz targets in `fuzz/`: whatever the
//! broker sends, they return an error, never panic. CONNACK (with MQTT 5 properties),
//! what a publisher reads, what a subscriber reads.

use crate::load::codec::connack::{self, Connack};
use crate::load::codec::pub_incoming;
use crate::load::error::LinkError;

pub use crate::load::codec::sub_incoming::{SubIncoming, parse as subscriber};

/// The publishing session's parser (acks, PINGRESP): bytes used and packets found.
pub fn publisher(buf: &[u8]) -> Result<(usize, usize), LinkError> {
    let mut out = Vec::new();
    let used = pub_incoming::parse(buf, &mut out)?;
    Ok((used, out.len()))
}

/// The dialer's CONNACK reading, on a whole packet: the fixed header's remaining length
/// (one to four bytes, as the dialer reads it a byte at a time), then the body with
/// every MQTT 5 property. Bytes after the packet are left alone.
pub fn connack(packet: &[u8]) -> Result<Connack, LinkError> {
    let mut head = 2;
    let len = loop {
        let part = packet.get(..head).ok_or(LinkError::Closed)?;
        if let Some(len) = connack::connack_body_len(part)? {
            break len;
        }
        head += 1;
    };
    let body = packet.get(head..head + len).ok_or(LinkError::Closed)?;
    connack::parse(body)
}

/// Every parser on `bytes`, with what each must hold: no panic, never more bytes used
/// than given, and a CONNACK that parses holds only values the spec allows. The fuzz
/// target `lean_packets` and the stable random-input loop below both call it.
pub fn check(bytes: &[u8]) {
    for v5 in [false, true] {
        let mut out = Vec::new();
        if let Ok(used) = subscriber(bytes, v5, &mut out) {
            assert!(used <= bytes.len());
        }
    }
    if let Ok((used, _)) = publisher(bytes) {
        assert!(used <= bytes.len());
    }
    if let Ok(c) = connack(bytes) {
        assert!(c.receive_maximum.is_none_or(|r| r > 0));
        assert!(c.maximum_qos.is_none_or(|q| q <= 1));
        assert!(c.maximum_packet_size.is_none_or(|p| p > 0));
    }
}

#[cfg(test)]
mod tests {
    //! A stable stand-in for libFuzzer: mutations of the committed corpus
    //! (`fuzz/corpus/lean_packets/`) and CONNACKs built from random properties, fed to
    //! [`check`] for `TWIN_FUZZ_SECS` seconds (1 by default; the seed is printed, and
    //! `TWIN_FUZZ_SEED` replays one).
    use super::check;
    use rand::{Rng, RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::time::{Duration, Instant};

    /// A CONNACK of random properties: known identifiers with values of the right
    /// width (and sometimes not), unknown ones, lengths that lie.
    fn random_connack(rng: &mut impl Rng) -> Vec<u8> {
        const IDS: [u8; 19] = [
            0x11, 0x21, 0x24, 0x25, 0x27, 0x12, 0x22, 0x1F, 0x26, 0x28, 0x29, 0x2A, 0x13, 0x1A,
            0x1C, 0x15, 0x16, 0x01, 0xFF,
        ];
        let mut props = Vec::new();
        for _ in 0..rng.random_range(0..8) {
            props.push(IDS[rng.random_range(0..IDS.len())]);
            let n = rng.random_range(0..6);
            if rng.random_bool(0.5) {
                props.extend_from_slice(&[0, n as u8]);
            }
            props.extend((0..n).map(|_| rng.random::<u8>()));
        }
        let mut body = vec![rng.random_range(0..2), rng.random_range(0..3)];
        let len = if rng.random_bool(0.9) {
            props.len()
        } else {
            rng.random_range(0..300)
        };
        crate::load::codec::header::encode_remaining_length(len, &mut body).ok();
        body.extend(props);
        let mut p = vec![0x20];
        crate::load::codec::header::encode_remaining_length(body.len(), &mut p).ok();
        p.extend(body);
        p
    }

    /// One mutation of `seed`: flip, insert, delete, overwrite with a boundary byte, or
    /// splice in another seed.
    fn mutate(rng: &mut impl Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
        let mut b = seed.to_vec();
        for _ in 0..rng.random_range(1..5) {
            let at = if b.is_empty() {
                0
            } else {
                rng.random_range(0..b.len())
            };
            match rng.random_range(0..5) {
                0 if !b.is_empty() => b[at] ^= 1 << rng.random_range(0..8),
                1 => b.insert(at, rng.random()),
                2 if !b.is_empty() => {
                    b.remove(at);
                }
                3 if !b.is_empty() => {
                    b[at] = [0x00, 0x01, 0x7F, 0x80, 0xFF][rng.random_range(0..5)]
                }
                _ => b.extend_from_slice(&other[..rng.random_range(0..=other.len())]),
            }
        }
        b
    }

    #[test]
    fn random_bytes_never_panic_the_parsers() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/lean_packets");
        let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| std::fs::read(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        seeds.push(vec![0x20, 0x02, 0x00, 0x00]);
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let secs = env("TWIN_FUZZ_SECS").unwrap_or(1);
        let seed = env("TWIN_FUZZ_SEED").unwrap_or_else(|| rand::rng().random());
        eprintln!(
            "{} corpus inputs, {secs} s, TWIN_FUZZ_SEED={seed}",
            seeds.len()
        );
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let end = Instant::now() + Duration::from_secs(secs);
        let mut runs = 0u64;
        for s in &seeds {
            check(s);
        }
        while Instant::now() < end {
            for _ in 0..1000 {
                let input = match rng.random_range(0..4) {
                    0 => random_connack(&mut rng),
                    1 => (0..rng.random_range(0..64)).map(|_| rng.random()).collect(),
                    _ => {
                        let a = &seeds[rng.random_range(0..seeds.len())];
                        let b = &seeds[rng.random_range(0..seeds.len())];
                        mutate(&mut rng, a, b)
                    }
                };
                check(&input);
                runs += 1;
            }
        }
        eprintln!("{runs} inputs, no panic");
    }
}
