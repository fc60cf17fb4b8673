//! The broker URL every command takes (`[broker] url`, `--broker`): `mqtt://host:port` or
//! `mqtts://host:port`, optionally with credentials, `mqtt://user:password@host:port`
//! (percent-encoded, as in any URL: `p%40ss` for `p@ss`). The password never leaves this
//! type in text: `Display`, `Debug` and every error show `user:***@host`, and
//! [`BrokerUrl::redact`] does the same for a URL kept as a string.

use crate::error::BrokerUrlError;
use std::fmt;

/// A checked broker URL: something to connect to, whether over TLS, and as whom.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address; an IPv6 literal without its brackets.
    pub host: String,
    /// TCP port, never 0.
    pub port: u16,
    /// `mqtts://`: connect over TLS.
    pub tls: bool,
    /// The user name before `@`, percent-decoded.
    pub username: Option<String>,
    /// The password after `user:`, percent-decoded.
    pub password: Option<String>,
}

impl BrokerUrl {
    /// Parse `mqtt://host:port` (plain TCP, port 1883 by default) or `mqtts://host:port`
    /// (TLS, port 8883 by default), with an optional `user:password@` before the host.
    pub fn parse(url: &str) -> Result<BrokerUrl, BrokerUrlError> {
        let shown = || BrokerUrl::redact(url);
        let (rest, tls, default_port, scheme) = if let Some(r) = url.strip_prefix("mqtt://") {
            (r, false, 1883, "mqtt")
        } else if let Some(r) = url.strip_prefix("mqtts://") {
            (r, true, 8883, "mqtts")
        } else if let Some((scheme, _)) = url.split_once("://") {
            return Err(BrokerUrlError::WrongScheme {
                url: shown(),
                scheme: scheme.into(),
            });
        } else {
            return Err(BrokerUrlError::NoScheme { url: shown() });
        };
        let rest = rest.trim_end_matches('/');
        let (username, password, rest) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => {
                let (u, p) = userinfo::split(userinfo)
                    .ok_or_else(|| BrokerUrlError::BadUserinfo { url: shown() })?;
                (Some(u), p, hostport)
            }
            None => (None, None, rest),
        };
        // An IPv6 literal is bracketed: the port is after "]:".
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with('[') && (!h.starts_with('[') || h.ends_with(']')) => {
                let port = p.parse::<u16>().map_err(|_| BrokerUrlError::BadPort {
                    url: shown(),
                    port: p.into(),
                })?;
                (h, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(BrokerUrlError::NoHostOrPort {
                url: shown(),
                scheme,
            });
        }
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
            tls,
            username,
            password,
        })
    }

    /// Parse a plain `mqtt://host:port`; a `mqtts://` URL is refused, for callers that
    /// have no TLS settings to go with it.
    pub fn parse_plain(url: &str) -> Result<BrokerUrl, BrokerUrlError> {
        let parsed = BrokerUrl::parse(url)?;
        if parsed.tls {
            return Err(BrokerUrlError::TlsNotSupported {
                url: BrokerUrl::redact(url),
            });
        }
        Ok(parsed)
    }

    /// `url` as it may be shown: a password in it replaced by `***`
    /// (`mqtt://user:***@host:1883`). Any text, parsed or not, so errors can use it.
    pub fn redact(url: &str) -> String {
        let start = url.find("://").map_or(0, |i| i + 3);
        let rest = &url[start..];
        let Some(at) = rest.rfind('@') else {
            return url.to_string();
        };
        match rest[..at].find(':') {
            Some(colon) => format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..]),
            None => url.to_string(),
        }
    }
}

/// As a URL, the password shown as `***`.
impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", if self.tls { "mqtts" } else { "mqtt" })?;
        if let Some(u) = &self.username {
            write!(f, "{u}")?;
            if self.password.is_some() {
                write!(f, ":***")?;
            }
            write!(f, "@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The password shown as `***`, as in `Display`.
impl fmt::Debug for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The `user:password` part of a URL.
mod userinfo {
    /// User and password, percent-decoded; `None` for an empty user or a bad `%` escape.
    pub(super) fn split(userinfo: &str) -> Option<(String, Option<String>)> {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        let user = decode(user)?;
        if user.is_empty() {
            return None;
        }
        let password = match password {
            Some(p) => Some(decode(p)?),
            None => None,
        };
        Some((user, password))
    }

    /// `%XX` escapes to bytes; the result must be UTF-8.
    fn decode(text: &str) -> Option<String> {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: u16, tls: bool) -> BrokerUrl {
        BrokerUrl {
            host: host.into(),
            port,
            tls,
            username: None,
            password: None,
        }
    }

    #[test]
    fn userinfo_is_credentials_and_the_password_is_never_shown() {
        let u = BrokerUrl::parse("mqtt://alice:secretpw@broker.example:1884").unwrap();
        assert_eq!(
            (
                u.host.as_str(),
                u.port,
                u.username.as_deref(),
                u.password.as_deref()
            ),
            ("broker.example", 1884, Some("alice"), Some("secretpw"))
        );
        assert_eq!(u.to_string(), "mqtt://alice:***@broker.example:1884");
        assert!(!format!("{u:?}").contains("secretpw"), "{u:?}");
        // Percent-encoded, as any URL; the last '@' ends the userinfo.
        let u = BrokerUrl::parse("mqtts://al%20ice:p%40ss:w@rd@[::1]").unwrap();
        assert_eq!(u.username.as_deref(), Some("al ice"));
        assert_eq!(u.password.as_deref(), Some("p@ss:w@rd"));
        assert_eq!(u.to_string(), "mqtts://al ice:***@[::1]:8883");
        let u = BrokerUrl::parse("mqtt://bob@h").unwrap();
        assert_eq!(
            (u.username.as_deref(), u.password.as_deref()),
            (Some("bob"), None)
        );
        assert_eq!(u.to_string(), "mqtt://bob@h:1883");
        assert_eq!(
            BrokerUrl::redact("mqtt://alice:secretpw@h:1"),
            "mqtt://alice:***@h:1"
        );
        assert_eq!(BrokerUrl::redact("mqtt://h:1"), "mqtt://h:1");
    }

    #[test]
    fn errors_about_a_url_with_a_password_do_not_show_it() {
        for bad in [
            "mqtt://alice:secretpw@host:port",
            "mqtt://alice:secretpw@:1883",
            "http://alice:secretpw@host:1883",
            "mqtt://:secretpw@host:1883",
            "mqtt://alice:secret%zzpw@host:1883",
        ] {
            let e = BrokerUrl::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("secret"), "{e}");
            assert!(e.contains("alice:***@") || e.contains(":***@"), "{e}");
        }
        let e = BrokerUrl::parse_plain("mqtts://alice:secretpw@h")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "broker url \"mqtts://alice:***@h\": TLS (mqtts://) is not supported here; expected mqtt://host:port"
        );
    }

    #[test]
    fn broker_urls() {
        assert_eq!(
            BrokerUrl::parse_plain("mqtt://127.0.0.1:1884").unwrap(),
            url("127.0.0.1", 1884, false)
        );
        assert_eq!(
            BrokerUrl::parse_plain("mqtt://localhost").unwrap(),
            url("localhost", 1883, false)
        );
        assert!(
            BrokerUrl::parse_plain("http://x:1")
                .unwrap_err()
                .to_string()
                .contains("wrong scheme `http`")
        );
        assert!(BrokerUrl::parse_plain("mqtt://x:99999").is_err());
        assert!(
            BrokerUrl::parse_plain("mqtts://x:8883")
                .unwrap_err()
                .to_string()
                .contains("TLS")
        );
        assert_eq!(BrokerUrl::parse("mqtts://x").unwrap(), url("x", 8883, true));
        assert_eq!(
            BrokerUrl::parse("mqtt://[::1]:1884").unwrap(),
            url("::1", 1884, false)
        );
        assert_eq!(
            BrokerUrl::parse("mqtts://[::1]").unwrap(),
            url("::1", 8883, true)
        );
        assert!(BrokerUrl::parse("mqtts://:8883").is_err());
    }

    // Moved with the parser from sim-core's endpoint, which only forwarded to it.
    #[test]
    fn urls_split_with_tls_and_default_ports() {
        assert_eq!(
            BrokerUrl::parse("mqtts://broker.example:9999").unwrap(),
            url("broker.example", 9999, true)
        );
        assert_eq!(
            BrokerUrl::parse("mqtts://broker.example").unwrap(),
            url("broker.example", 8883, true)
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://127.0.0.1").unwrap(),
            url("127.0.0.1", 1883, false)
        );
        assert!(BrokerUrl::parse("http://x").is_err());
    }
}
