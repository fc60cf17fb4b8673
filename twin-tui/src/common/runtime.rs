//! The tokio runtime every command's network I/O runs on.

use anyhow::Context;

/// A multi-threaded runtime whose threads are named `twin-io`.
pub fn io_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("twin-io")
        .build()
        .context("starting the async runtime")
}
