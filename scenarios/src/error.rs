//! The scenario language's errors: [`ScenarioError`] for a file, with where (file:line:column)
//! and what was expected; [`DurationError`] and [`BrokerUrlError`] for the two values that
//! are also read from the command line, where there is no file position to give.

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
    /// The file is longer than a scenario can be; it was not read to its end.
    #[error(
        "scenario file {path} is larger than {limit_mib} MiB; expected a scenario (a fleet of any size fits in a few lines with count)"
    )]
    TooLarge {
        /// The path as given.
        path: String,
        /// The cap, MiB.
        limit_mib: u64,
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
            ScenarioError::Read { .. } | ScenarioError::TooLarge { .. } => None,
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

/// Why a duration text (`"10s"`) was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DurationError {
    /// A leading minus sign.
    #[error("duration \"{text}\" is negative; expected a positive duration")]
    Negative {
        /// The text as given.
        text: String,
    },
    /// Not a number with a unit.
    #[error(
        "invalid duration \"{text}\" ({reason}); expected a number with a unit, like \"500ms\", \"10s\", \"5m\" or \"2h\""
    )]
    Invalid {
        /// The text as given.
        text: String,
        /// What `humantime` said; part of the message, so not a `source` to print twice.
        reason: humantime::DurationError,
    },
}

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerUrlError {
    /// No `scheme://` at all.
    #[error(
        "broker url \"{url}\" has no scheme; expected mqtt://host:port (or mqtts:// for TLS), like mqtt://127.0.0.1:1883"
    )]
    NoScheme {
        /// The URL as given, its password shown as `***`.
        url: String,
    },
    /// A scheme other than the two supported (`http://`, `ws://`, `tcp://`, ...).
    #[error(
        "broker url \"{url}\": wrong scheme `{scheme}` (use mqtt://host:port, or mqtts://host:port for TLS; WebSocket brokers are not supported)"
    )]
    WrongScheme {
        /// The URL as given.
        url: String,
        /// What came before `://`.
        scheme: String,
    },
    /// The text after the last `:` is not a port number.
    #[error("broker url \"{url}\": port \"{port}\" is not a number from 1 to 65535")]
    BadPort {
        /// The URL as given, its password shown as `***`.
        url: String,
        /// The text where the port should be.
        port: String,
    },
    /// An empty host, or port 0.
    #[error("broker url \"{url}\" has no host or port; expected {scheme}://host:port")]
    NoHostOrPort {
        /// The URL as given, its password shown as `***`.
        url: String,
        /// `mqtt` or `mqtts`, as the URL began.
        scheme: &'static str,
    },
    /// `user:password@` with an empty user name or a bad `%` escape.
    #[error(
        "broker url \"{url}\": the credentials before '@' are not user:password; expected mqtt://user:password@host:port with a user name and %XX escapes for special characters"
    )]
    BadUserinfo {
        /// The URL as given, its password shown as `***`.
        url: String,
    },
    /// `mqtts://` where only plain TCP can be used.
    #[error(
        "broker url \"{url}\": TLS (mqtts://) is not supported here; expected mqtt://host:port"
    )]
    TlsNotSupported {
        /// The URL as given, its password shown as `***`.
        url: String,
    },
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

    // The texts users saw when these were plain strings, letter for letter.
    #[test]
    fn value_errors_keep_their_words() {
        let url = |u: &str| u.to_string();
        let cases = [
            (
                BrokerUrlError::NoScheme {
                    url: url("127.0.0.1:1883"),
                }
                .to_string(),
                "broker url \"127.0.0.1:1883\" has no scheme; expected mqtt://host:port (or mqtts:// for TLS), like mqtt://127.0.0.1:1883",
            ),
            (
                BrokerUrlError::WrongScheme {
                    url: url("http://x"),
                    scheme: "http".into(),
                }
                .to_string(),
                "broker url \"http://x\": wrong scheme `http` (use mqtt://host:port, or mqtts://host:port for TLS; WebSocket brokers are not supported)",
            ),
            (
                BrokerUrlError::BadPort {
                    url: url("mqtt://x:y"),
                    port: "y".into(),
                }
                .to_string(),
                "broker url \"mqtt://x:y\": port \"y\" is not a number from 1 to 65535",
            ),
            (
                BrokerUrlError::NoHostOrPort {
                    url: url("mqtts://:0"),
                    scheme: "mqtts",
                }
                .to_string(),
                "broker url \"mqtts://:0\" has no host or port; expected mqtts://host:port",
            ),
            (
                BrokerUrlError::TlsNotSupported {
                    url: url("mqtts://x"),
                }
                .to_string(),
                "broker url \"mqtts://x\": TLS (mqtts://) is not supported here; expected mqtt://host:port",
            ),
            (
                DurationError::Negative { text: url("-5s") }.to_string(),
                "duration \"-5s\" is negative; expected a positive duration",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
