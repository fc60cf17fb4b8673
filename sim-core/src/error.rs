//! Every way the engine fails, in one place: a run ([`RunError`]), the embedded broker
//! ([`BrokerError`]), a broker endpoint ([`EndpointError`]), the wire codec
//! ([`EncodeError`], [`DecodeError`]) and the merge of shard run reports
//! ([`MergeError`]). The modules that raise them re-export them, so
//! `sim_core::run::RunError` and `sim_core::transport::broker::BrokerError` still work.
//!
//! The load engine keeps errors of its own (it is a product of its own); it reports
//! refusals through [`RunError`] so the CLI maps both to the same exit codes.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a run could not be done.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad input: a broker URL or a flag that cannot be used (exit code 2).
    #[error("{0}")]
    BadInput(String),
    /// The embedded broker did not start.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The broker cannot be reached: its name does not resolve, the port refuses the
    /// connection, or nothing answered in time. `why` names which.
    #[error("broker {url} unreachable: {why}")]
    Unreachable {
        /// Broker URL.
        url: String,
        /// What happened: "name x not resolved", "connection refused", "timed out ...".
        why: String,
    },
    /// The broker answered but will not take us (credentials, TLS): retrying cannot help.
    #[error("broker {url}: {why}")]
    Refused {
        /// Broker URL.
        url: String,
        /// What went wrong.
        why: String,
    },
    /// The process may not open enough sockets for the fleet.
    #[error(
        "{devices} MQTT sessions need about {needed} open files{why}, but this process may open {limit}; raise `ulimit -n`, put devices behind gateways (gateway = \"...\" in the scenario){hint}"
    )]
    TooManyFiles {
        /// Sessions of the fleet: a device's own, or a gateway's.
        devices: usize,
        /// Descriptors needed.
        needed: u64,
        /// The limit after raising the soft limit to the hard one.
        limit: u64,
        /// Why so many.
        why: &'static str,
        /// What else helps.
        hint: &'static str,
    },
    /// A signal (SIGINT, SIGTERM, SIGHUP) stopped the command before it had anything to
    /// report (exit code 130).
    #[error("interrupted {while_}")]
    Interrupted {
        /// What it was doing: "while connecting to broker mqtt://...".
        while_: String,
    },
    /// Thread or runtime failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A bad endpoint is bad input: the user gave a URL or flags that cannot work together.
impl From<EndpointError> for RunError {
    fn from(e: EndpointError) -> Self {
        RunError::BadInput(e.to_string())
    }
}

/// The embedded broker could not be started.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// No free port, or the thread could not be spawned.
    #[error("embedded broker: {0}")]
    Io(#[from] std::io::Error),
    /// It did not accept connections in time.
    #[error("embedded broker did not start listening on {0} within 10 s")]
    NotListening(SocketAddr),
}

/// A broker URL and security settings that cannot make an endpoint. The texts name the
/// CLI flags, since that is where the settings come from.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The URL does not parse (the scenario crate's message).
    #[error(transparent)]
    Url(#[from] scenarios::BrokerUrlError),
    /// TLS settings with a plain `mqtt://` URL.
    #[error("--cafile, --cert and --insecure need a TLS broker url (mqtts://), not {0}")]
    TlsNeedsMqtts(String),
    /// `--cert` without `--key`, or the other way round.
    #[error("--cert and --key go together")]
    CertWithoutKey,
    /// Credentials in the broker URL and in `--username`/`--password` (or their
    /// environment variables) at once.
    #[error(
        "broker url {0} carries credentials, and --username/--password (or TWIN_USERNAME/TWIN_PASSWORD) give them too; expected one or the other"
    )]
    CredentialsTwice(String),
    /// `--password` without `--username`.
    #[error("a password needs a --username")]
    PasswordWithoutUser,
    /// rustls refused the protocol versions.
    #[error("TLS setup: {0}")]
    TlsSetup(rustls::Error),
    /// A PEM file given with `flag` could not be read.
    #[error("{flag} {}: {why}", path.display())]
    File {
        /// `--cafile`, `--cert` or `--key`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: rustls::pki_types::pem::Error,
    },
    /// A PEM file given with `flag` holds no certificate.
    #[error("{flag} {}: no PEM certificate in it", path.display())]
    NoCertificate {
        /// `--cafile` or `--cert`.
        flag: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// No `--cafile` and the system has no CA certificates.
    #[error("no system CA certificates found; give the broker's CA with --cafile")]
    NoSystemRoots,
    /// rustls refused the client certificate and key.
    #[error("client certificate: {0}")]
    ClientCert(rustls::Error),
}

/// Encoding failed (only possible for non-finite floats in JSON).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode payload: {0}")]
pub struct EncodeError(pub(crate) String);

/// Why a payload was not understood.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not valid JSON / MessagePack, or a required field is missing or of the wrong type.
    #[error("{0}")]
    Malformed(String),
}

/// Why shard run reports do not merge into one run's report. `file` names a report as
/// the caller read it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// Nothing given.
    #[error("no run reports to merge")]
    NoReports,
    /// Two reports are not of one run.
    #[error(
        "{file}: {what} {theirs} but {first}: {ours}; only the shards of one run (one scenario, one seed) merge"
    )]
    Differ {
        /// The report that differs.
        file: String,
        /// `scenario`, `seed`, `command`.
        what: &'static str,
        /// Its value.
        theirs: String,
        /// The first report.
        first: String,
        /// The first report's value.
        ours: String,
    },
    /// A `shard` field that is not `i/N`.
    #[error("{file}: shard {label:?} is not i/N")]
    BadShard {
        /// The report.
        file: String,
        /// Its `shard`.
        label: String,
    },
    /// Shards of different splits (`1/4` beside `0/2`).
    #[error("{file} is shard {theirs} but {first} is shard {ours}: the shards of one run share N")]
    Split {
        /// The report.
        file: String,
        /// Its `shard`.
        theirs: String,
        /// The first report.
        first: String,
        /// The first report's `shard`.
        ours: String,
    },
    /// The same shard twice.
    #[error("shard {shard} given twice: {first} and {second}")]
    Duplicate {
        /// `i/N`.
        shard: String,
        /// The first report of it.
        first: String,
        /// The second.
        second: String,
    },
    /// Shards not given.
    #[error("shard {missing} of {count} missing: give the reports of all {count} shards")]
    Missing {
        /// The missing ones, `i/N, …`.
        missing: String,
        /// N.
        count: usize,
    },
    /// Device entries that do not add up to one fleet (reports of different files).
    #[error(
        "{file}: device {id} has fleet index {index}, which another report also has or which is beyond the {total} devices of all shards; were the shards run from one scenario file?"
    )]
    Fleet {
        /// The report.
        file: String,
        /// Its device.
        id: String,
        /// The device's `fleet_index`.
        index: u64,
        /// Devices over all reports.
        total: usize,
    },
    /// An alert or fault naming a device that no report lists.
    #[error("{file}: {what} names device {id:?}, which no report lists")]
    UnknownDevice {
        /// The report.
        file: String,
        /// `an alert`, `a fault`.
        what: &'static str,
        /// The device.
        id: String,
    },
    /// A histogram that does not read back or add.
    #[error("{file}: histogram {name:?}: {why}")]
    Histogram {
        /// The report.
        file: String,
        /// Its name.
        name: String,
        /// Why.
        why: String,
    },
}
