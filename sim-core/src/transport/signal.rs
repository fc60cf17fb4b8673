//! [`SessionSignal`]: how the run's router asks a session (a device's or a gateway's) to
//! go off or on line.

use std::sync::atomic::AtomicBool;
use tokio::sync::Notify;

/// Asks one session to go off or on line (the sim's disconnect and reconnect). The
/// session reads it after each notify.
#[derive(Debug, Default)]
pub struct SessionSignal {
    /// The session should be connected.
    pub want_online: AtomicBool,
    /// Wakes the session task.
    pub notify: Notify,
}
