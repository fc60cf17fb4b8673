//! Logging: `tracing` on stderr, filtered by `RUST_LOG`.

/// Install the subscriber (warnings, and nothing from the embedded broker, unless
/// `RUST_LOG` says otherwise).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rumqttd=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
