//! Where a key nests too deep. The TOML parser stops at 80 levels, and for a dotted key
//! (`a.a.a… = 1`, or a `[a.a.a…]` header) it says only "recursion limit", with no place;
//! this finds the key it means, so the error can point at its line and column.

use std::ops::Range;

/// The most parts a dotted key may have, as the TOML parser counts them.
pub(crate) const MAX_KEY_PARTS: usize = 80;

/// The first dotted key of more than [`MAX_KEY_PARTS`] parts: its span and its parts.
/// Strings and comments are skipped, so dots inside them do not count.
pub(crate) fn too_deep_key(src: &str) -> Option<(Range<usize>, usize)> {
    let bytes = src.as_bytes();
    let mut run: Option<(usize, usize)> = None; // (start, dots)
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' | b'\'' => {
                run.get_or_insert((i, 0));
                i = past_string(bytes, i);
                continue;
            }
            b'.' => {
                if let Some((_, dots)) = run.as_mut() {
                    *dots += 1;
                } else {
                    run = Some((i, 1));
                }
            }
            b' ' | b'\t' => {}
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => {
                run.get_or_insert((i, 0));
            }
            _ => {
                if let Some((start, dots)) = run.take()
                    && dots >= MAX_KEY_PARTS
                {
                    return Some((start..i, dots + 1));
                }
                if b == b'#' {
                    i = src[i..].find('\n').map_or(bytes.len(), |n| i + n);
                    continue;
                }
            }
        }
        i += 1;
    }
    run.filter(|&(_, dots)| dots >= MAX_KEY_PARTS)
        .map(|(start, dots)| (start..bytes.len(), dots + 1))
}

/// The index just past the string opening at `i` (basic or literal, one line or three
/// quotes); the end of the text if it never closes.
fn past_string(bytes: &[u8], i: usize) -> usize {
    let q = bytes[i];
    let triple = bytes.get(i..i + 3) == Some(&[q, q, q][..]);
    let mut j = if triple { i + 3 } else { i + 1 };
    while j < bytes.len() {
        let b = bytes[j];
        if b == b'\\' && q == b'"' {
            j += 2;
            continue;
        }
        if b == q && (!triple || bytes.get(j..j + 3) == Some(&[q, q, q][..])) {
            return j + if triple { 3 } else { 1 };
        }
        if b == b'\n' && !triple {
            return j;
        }
        j += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_deep_key_and_skips_strings_and_comments() {
        let deep = vec!["a"; 100].join(".");
        let src = format!("x = \"{}\"\n# {}\n[t]\n{deep} = 1\n", "b.".repeat(90), deep);
        let (span, parts) = too_deep_key(&src).unwrap();
        assert_eq!(parts, 100);
        assert_eq!(&src[span], format!("{deep} "));
        assert_eq!(too_deep_key(&vec!["a"; 80].join(".")), None);
        let header = format!("[{}]\n", vec!["\"q.q\""; 81].join("."));
        assert_eq!(too_deep_key(&header).map(|d| d.1), Some(81));
    }
}
