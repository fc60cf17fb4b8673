//! The broker URL every command takes (`[broker] url`, `--broker`): `mqtt://host:port` or
//! `mqtts://host:port`.

use crate::error::BrokerUrlError;

/// A checked broker URL: something to connect to, and whether over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address; an IPv6 literal without its brackets.
    pub host: String,
    /// TCP port, never 0.
    pub port: u16,
    /// `mqtts://`: connect over TLS.
    pub tls: bool,
}

impl BrokerUrl {
    /// Parse `mqtt://host:port` (plain TCP, port 1883 by default) or `mqtts://host:port`
    /// (TLS, port 8883 by default).
    pub fn parse(url: &str) -> Result<BrokerUrl, BrokerUrlError> {
        let (rest, tls, default_port, scheme) = if let Some(r) = url.strip_prefix("mqtt://") {
            (r, false, 1883, "mqtt")
        } else if let Some(r) = url.strip_prefix("mqtts://") {
            (r, true, 8883, "mqtts")
        } else {
            return Err(BrokerUrlError::NoScheme { url: url.into() });
        };
        let rest = rest.trim_end_matches('/');
        // An IPv6 literal is bracketed: the port is after "]:".
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with('[') && (!h.starts_with('[') || h.ends_with(']')) => {
                let port = p.parse::<u16>().map_err(|_| BrokerUrlError::BadPort {
                    url: url.into(),
                    port: p.into(),
                })?;
                (h, port)
            }
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(BrokerUrlError::NoHostOrPort {
                url: url.into(),
                scheme,
            });
        }
        Ok(BrokerUrl {
            host: host.to_string(),
            port,
            tls,
        })
    }

    /// Parse a plain `mqtt://host:port`; a `mqtts://` URL is refused, for callers that
    /// have no TLS settings to go with it.
    pub fn parse_plain(url: &str) -> Result<BrokerUrl, BrokerUrlError> {
        let parsed = BrokerUrl::parse(url)?;
        if parsed.tls {
            return Err(BrokerUrlError::TlsNotSupported { url: url.into() });
        }
        Ok(parsed)
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
        }
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
        assert!(BrokerUrl::parse_plain("http://x:1").is_err());
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
