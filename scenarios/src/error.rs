//! One error type for the scenario language: where (file:line:column) and what was expected.

use std::fmt;
use std::ops::Range;

/// Why a scenario could not be loaded. Nothing is started when this is returned.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read at all.
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid scenario.
    #[error("{0}")]
    Invalid(Located),
}

impl ScenarioError {
    /// The position of an `Invalid` error, for tests and tools.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            ScenarioError::Invalid(l) => Some((l.line, l.column)),
            ScenarioError::Read { .. } => None,
        }
    }
}

/// A message tied to a place in a file, printed as `file:line:column: message` with the
/// offending line and a caret below it.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    /// The file name as the user gave it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
    /// The source line the error points into.
    pub source_line: String,
}

impl Located {
    /// Build from a byte span into `src`.
    pub fn at(file: &str, src: &str, span: Range<usize>, message: impl Into<String>) -> Located {
        let start = span.start.min(src.len());
        let before = &src[..start];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = src[line_start..start].chars().count() + 1;
        let source_line = src[line_start..]
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        Located {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            source_line,
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        let gutter = self.line.to_string();
        writeln!(f, "{} | {}", gutter, self.source_line)?;
        write!(
            f,
            "{} | {}^",
            " ".repeat(gutter.len()),
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_span_becomes_line_and_column() {
        let src = "a = 1\nbb = \"x\"\n";
        let l = Located::at("f.toml", src, 11..14, "bad");
        assert_eq!((l.line, l.column), (2, 6));
        assert_eq!(l.source_line, "bb = \"x\"");
        let text = l.to_string();
        assert!(text.starts_with("f.toml:2:6: bad\n"), "{text}");
        assert!(text.ends_with("  |      ^"), "{text:?}");
    }
}
