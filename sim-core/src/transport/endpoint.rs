//! Where and how to reach a broker: host and port from an `mqtt://` or `mqtts://` URL,
//! TLS through rustls (certificate verification on unless asked otherwise), and
//! credentials. Passwords never appear in `Debug` output, logs or reports.

use rumqttc::{MqttOptions, TlsConfiguration, Transport};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::error::EndpointError;

/// How to authenticate and secure a connection (the CLI's `--username`, `--password`,
/// `--cafile`, `--cert`, `--key`, `--insecure`).
#[derive(Clone, Default, PartialEq)]
pub struct Security {
    /// MQTT user name.
    pub username: Option<String>,
    /// MQTT password.
    pub password: Option<String>,
    /// PEM file of the CA certificates to trust instead of the system's.
    pub cafile: Option<PathBuf>,
    /// PEM client certificate (chain) for mutual TLS.
    pub cert: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key: Option<PathBuf>,
    /// Accept any server certificate (testing only).
    pub insecure: bool,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("cafile", &self.cafile)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// The credentials of `url` (`mqtt://user:password@host`) in `sec`. Given both in the URL
/// and with `--username`/`--password`, they are refused rather than one silently chosen.
fn with_url_credentials(
    sec: &Security,
    url: &scenarios::BrokerUrl,
) -> Result<Security, EndpointError> {
    if url.username.is_none() {
        return Ok(sec.clone());
    }
    if sec.username.is_some() || sec.password.is_some() {
        return Err(EndpointError::CredentialsTwice(url.to_string()));
    }
    Ok(Security {
        username: url.username.clone(),
        password: url.password.clone(),
        ..sec.clone()
    })
}

/// A broker to connect to, ready to make client options.
#[derive(Clone)]
pub struct Endpoint {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    tls: Option<Arc<ClientConfig>>,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls.is_some())
            .field("username", &self.credentials.as_ref().map(|c| &c.0))
            .finish()
    }
}

/// A client id for one of this process's own sessions (`twin-{role}-{pid}-{µs}`): the
/// time as well as the process id, since shard pods all run as process 1.
pub fn own_client_id(role: &str) -> String {
    format!(
        "twin-{role}-{}-{}",
        std::process::id(),
        crate::wire::unix_us() % 1_000_000
    )
}

impl Endpoint {
    /// Resolve a URL and the security settings; file and certificate problems are
    /// reported here, before any connection.
    pub fn new(url: &str, sec: &Security) -> Result<Endpoint, EndpointError> {
        let parsed = scenarios::BrokerUrl::parse(url)?;
        let sec = &with_url_credentials(sec, &parsed)?;
        let scenarios::BrokerUrl {
            host, port, tls, ..
        } = parsed;
        if !tls && (sec.cafile.is_some() || sec.cert.is_some() || sec.insecure) {
            return Err(EndpointError::TlsNeedsMqtts(scenarios::BrokerUrl::redact(
                url,
            )));
        }
        if sec.cert.is_some() != sec.key.is_some() {
            return Err(EndpointError::CertWithoutKey);
        }
        if sec.password.is_some() && sec.username.is_none() {
            return Err(EndpointError::PasswordWithoutUser);
        }
        let tls = if tls {
            Some(Arc::new(client_config(sec)?))
        } else {
            None
        };
        let credentials = sec
            .username
            .clone()
            .map(|u| (u, sec.password.clone().unwrap_or_default()));
        Ok(Endpoint {
            host,
            port,
            tls,
            credentials,
        })
    }

    /// Whether connections use TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS client configuration, for a `mqtts://` broker.
    pub fn tls_config(&self) -> Option<Arc<ClientConfig>> {
        self.tls.clone()
    }

    /// User name and password, when given.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Client options for one session: transport and credentials set.
    pub fn options(&self, client_id: impl Into<String>) -> MqttOptions {
        let mut o = MqttOptions::new(client_id, self.host.clone(), self.port);
        if let Some(cfg) = &self.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                cfg.clone(),
            )));
        }
        if let Some((u, p)) = &self.credentials {
            o.set_credentials(u.clone(), p.clone());
        }
        o
    }
}

impl Endpoint {
    /// As [`Endpoint::options`], for an MQTT 5 session.
    pub fn options_v5(&self, client_id: impl Into<String>) -> rumqttc::v5::MqttOptions {
        let mut o = rumqttc::v5::MqttOptions::new(client_id, self.host.clone(), self.port);
        if let Some(cfg) = &self.tls {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                cfg.clone(),
            )));
        }
        if let Some((u, p)) = &self.credentials {
            o.set_credentials(u.clone(), p.clone());
        }
        o
    }
}

fn client_config(sec: &Security) -> Result<ClientConfig, EndpointError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(EndpointError::TlsSetup)?;
    let builder = if sec.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        builder.with_root_certificates(roots(sec.cafile.as_deref())?)
    };
    match (&sec.cert, &sec.key) {
        (Some(cert), Some(key)) => {
            let chain = certificates("--cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|why| EndpointError::File {
                flag: "--key",
                path: key.clone(),
                why,
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(EndpointError::ClientCert)
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// The CAs to trust: those in `cafile`, or the system's.
fn roots(cafile: Option<&Path>) -> Result<RootCertStore, EndpointError> {
    let mut roots = RootCertStore::empty();
    match cafile {
        Some(path) => {
            let (added, _) = roots.add_parsable_certificates(certificates("--cafile", path)?);
            if added == 0 {
                return Err(EndpointError::NoCertificate {
                    flag: "--cafile",
                    path: path.to_path_buf(),
                });
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(EndpointError::NoSystemRoots);
            }
        }
    }
    Ok(roots)
}

/// Every certificate in a PEM file given with `flag`; at least one.
fn certificates(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, EndpointError> {
    let file = |why| EndpointError::File {
        flag,
        path: path.to_path_buf(),
        why,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(file)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(file)?;
    if certs.is_empty() {
        return Err(EndpointError::NoCertificate {
            flag,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// `--insecure`: accepts every server certificate, still checking the handshake
/// signatures with the provider's algorithms.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_debug_output() {
        let sec = Security {
            username: Some("alice".into()),
            password: Some("s3cret-value".into()),
            ..Security::default()
        };
        let ep = Endpoint::new("mqtt://127.0.0.1:1883", &sec).unwrap();
        for text in [format!("{sec:?}"), format!("{ep:?}")] {
            assert!(!text.contains("s3cret-value"), "{text}");
            assert!(text.contains("alice"), "{text}");
        }
    }

    #[test]
    fn tls_options_need_a_tls_url_and_files_that_exist() {
        let sec = Security {
            insecure: true,
            ..Security::default()
        };
        assert!(Endpoint::new("mqtt://127.0.0.1:1883", &sec).is_err());
        assert!(
            Endpoint::new("mqtts://127.0.0.1:8883", &sec)
                .unwrap()
                .is_tls()
        );
        let sec = Security {
            cafile: Some("/nonexistent/ca.pem".into()),
            ..Security::default()
        };
        let e = Endpoint::new("mqtts://127.0.0.1:8883", &sec)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
