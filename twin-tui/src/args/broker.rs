//! How to reach a broker: the flag groups that `run`, `load` and `mirror` flatten in.

use crate::args::values::{parse_dur, parse_dur_or_zero};
use crate::common::exit::bad_input;
use scenarios::Dur;
use sim_core::transport::endpoint::{Endpoint, Security};
use std::path::PathBuf;

/// How to reach a broker that wants TLS or credentials.
#[derive(Debug, clap::Args)]
pub struct SecurityArgs {
    /// MQTT user name (or in the URL: mqtt://user:password@host; not both).
    #[arg(long, env = "TWIN_USERNAME")]
    pub username: Option<String>,
    /// MQTT password (prefer TWIN_PASSWORD or --password-file: flags show in `ps`).
    #[arg(
        long,
        env = "TWIN_PASSWORD",
        hide_env_values = true,
        conflicts_with = "password_file"
    )]
    pub password: Option<String>,
    /// Read the MQTT password from the first line of this file.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// With mqtts://: trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub cafile: Option<PathBuf>,
    /// With mqtts://: client certificate (PEM) for mutual TLS.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// With mqtts://: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// With mqtts://: accept any server certificate. For test brokers only.
    #[arg(long)]
    pub insecure: bool,
}

impl SecurityArgs {
    /// The settings, the password file read; warns about --insecure.
    pub fn security(&self) -> anyhow::Result<Security> {
        let password = match &self.password_file {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .map_err(|e| bad_input(format!("--password-file {}: {e}", p.display())))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            ),
            None => self.password.clone(),
        };
        if self.insecure {
            eprintln!(
                "warning: --insecure: the broker's certificate is not checked; anyone on the path can read and alter this traffic"
            );
        }
        Ok(Security {
            username: self.username.clone(),
            password,
            cafile: self.cafile.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
            insecure: self.insecure,
        })
    }
}

/// The broker a load command talks to, and how.
#[derive(Debug, clap::Args)]
pub struct BrokerArgs {
    /// Broker URL (mqtt://host:port or mqtts://host:port, credentials as
    /// mqtt://user:password@host:port); default: the embedded broker.
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: Option<String>,
    /// MQTT protocol version: 3.1.1 or 5.
    #[arg(long, value_parser = sim_core::load::Protocol::parse, default_value = "3.1.1")]
    pub mqtt_version: sim_core::load::Protocol,
    /// TLS and credentials.
    #[command(flatten)]
    pub security: SecurityArgs,
}

impl BrokerArgs {
    /// The URL checked, when one is given.
    pub fn checked_url(&self) -> anyhow::Result<Option<String>> {
        if let Some(b) = &self.broker {
            scenarios::BrokerUrl::parse(b).map_err(bad_input)?;
        }
        Ok(self.broker.clone())
    }
}

/// The broker the devices publish to.
#[derive(Debug, clap::Args)]
pub struct MirrorBroker {
    /// Broker URL (mqtt://host:port or mqtts://host:port, credentials as
    /// mqtt://user:password@host:port); overrides the config's
    /// [mirror] broker. There is no embedded default: the mirror must meet the devices
    /// on the broker they use.
    #[arg(long, env = "TWIN_BROKER")]
    pub broker: Option<String>,
    /// Give up when the broker cannot be reached for this long.
    #[arg(long, value_parser = parse_dur, default_value = "10s")]
    pub connect_timeout: Dur,
    /// A broker whose name does not resolve or whose port refuses connections is tried
    /// again for this long (a broker still starting), then the mirror fails; by default
    /// it fails at once, naming the cause.
    #[arg(long, value_parser = parse_dur_or_zero, default_value = "0s", value_name = "DURATION")]
    pub wait_for_broker: Dur,
    /// TLS and credentials.
    #[command(flatten)]
    pub security: SecurityArgs,
}

impl MirrorBroker {
    /// The broker URL (the flag's, else the config's) and how to reach it; the URL
    /// comes back with its password shown as `***`, for messages and reports (the
    /// endpoint holds the credentials).
    pub fn endpoint(&self, from_config: Option<&str>) -> anyhow::Result<(String, Endpoint)> {
        let url = self.broker.clone().or_else(|| from_config.map(str::to_string)).ok_or_else(|| {
            bad_input("no broker: give --broker mqtt://host:port (the broker your devices publish to) or set [mirror] broker in the config")
        })?;
        let sec = self.security.security()?;
        let ep = Endpoint::new(&url, &sec).map_err(bad_input)?;
        Ok((scenarios::BrokerUrl::redact(&url), ep))
    }
}
