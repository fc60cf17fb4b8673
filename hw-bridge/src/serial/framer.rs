//! Lines out of a serial byte stream, and commands into one line each.

/// What the framer made of the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One line, without its `\n` or `\r\n`; not checked for UTF-8 or JSON.
    Line(Vec<u8>),
    /// A line longer than the limit, dropped: its length in bytes.
    TooLong(usize),
}

/// Splits a byte stream into lines. A line may arrive over several reads and several
/// lines in one read; `\r\n` ends a line like `\n`; empty lines are skipped. A line over
/// the limit is not kept past it: the rest is skipped up to its end and only its length
/// is reported, so a device that never sends a newline cannot grow memory.
#[derive(Debug)]
pub struct LineFramer {
    /// The line so far.
    buf: Vec<u8>,
    /// Longest line accepted, in bytes, line ending excluded.
    max: usize,
    /// Inside an over-long line: its length so far.
    skipping: Option<usize>,
    /// Whether the last byte taken was '\r' (the start of a "\r\n", perhaps).
    last_cr: bool,
}

impl LineFramer {
    /// A framer for lines of at most `max` bytes.
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            buf: Vec::new(),
            max,
            skipping: None,
            last_cr: false,
        }
    }

    /// Take bytes as read; returns the lines they completed.
    pub fn push(&mut self, mut bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (part, ended) = match bytes.iter().position(|b| *b == b'\n') {
                Some(i) => (&bytes[..i], true),
                None => (bytes, false),
            };
            bytes = &bytes[(part.len() + usize::from(ended))..];
            if let Some(b) = part.last() {
                self.last_cr = *b == b'\r';
            }
            match &mut self.skipping {
                Some(len) => *len += part.len(),
                None => {
                    self.buf.extend_from_slice(part);
                    // One byte of slack for the '\r' of a "\r\n" not seen yet.
                    if self.buf.len() > self.max + 1 {
                        self.skipping = Some(self.buf.len());
                        self.buf = Vec::new();
                    }
                }
            }
            if !ended {
                break;
            }
            let cr = std::mem::take(&mut self.last_cr);
            match self.skipping.take() {
                Some(len) => out.push(Frame::TooLong(len - usize::from(cr))),
                None => {
                    let mut line = std::mem::take(&mut self.buf);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > self.max {
                        out.push(Frame::TooLong(line.len()));
                    } else if !line.is_empty() {
                        out.push(Frame::Line(line));
                    }
                }
            }
        }
        out
    }

    /// The port closed: forget a line cut off by it; returns how many bytes it had.
    pub fn reset(&mut self) -> usize {
        let cut = self.skipping.take().unwrap_or(self.buf.len());
        self.buf.clear();
        self.last_cr = false;
        cut
    }
}

/// A command payload as the line written to the port: JSON re-encoded compactly on one
/// line, other text as it is; a payload that would not stay one line is refused.
pub fn command_line(payload: &[u8]) -> Result<Vec<u8>, String> {
    let mut line = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(v) => v.to_string().into_bytes(),
        Err(_) => {
            let text = std::str::from_utf8(payload)
                .map_err(|_| "a command must be JSON or text".to_string())?;
            let text = text.trim_end_matches(['\r', '\n']);
            if text.contains(['\r', '\n']) {
                return Err("a command that is not JSON must be one line".into());
            }
            text.as_bytes().to_vec()
        }
    };
    line.push(b'\n');
    Ok(line)
}

#[cfg(test)]
#[path = "framer_tests.rs"]
mod tests;
