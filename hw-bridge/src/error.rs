//! The crate's one error type.

use scenarios::Located;

/// What can go wrong in the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The configuration file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is invalid; the message points at the file, line and column.
    #[error("{0}")]
    Config(Located),
    /// Bad input given some other way (flags, `key=value` pairs).
    #[error("{0}")]
    BadInput(String),
    /// A desired state the device's convention cannot carry (a key it has no command
    /// for, a value of the wrong type): why, as it lands in a rejection.
    #[error("{0}")]
    Command(String),
    /// A message from a device that cannot be read: why, as [`crate::adapter::Outcome`]
    /// reports it (`Malformed`).
    #[error("{0}")]
    Malformed(String),
    /// The broker could not be used, found before the session started (the reason named:
    /// a name not resolved, a refused port, TLS, credentials) or the command was
    /// interrupted while it connected.
    #[error(transparent)]
    Run(#[from] sim_core::run::RunError),
    /// The broker could not be reached, or refused the session.
    #[error("broker {url}: {message}")]
    Broker {
        /// The broker URL.
        url: String,
        /// What happened.
        message: String,
    },
}
