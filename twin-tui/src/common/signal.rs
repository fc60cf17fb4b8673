//! The one signal handler: a signal that ends a command sets a flag the command watches,
//! so it winds down and still writes its report (exit code 130).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals that end every command, report written: SIGINT (Ctrl-C in a shell, or
/// `kill -INT`; under the terminal UI Ctrl-C is a key, so only the latter), SIGTERM (what
/// Kubernetes and systemd send) and SIGHUP (a closed terminal or a dropped SSH session,
/// which must not lose a long run).
fn kinds() -> [SignalKind; 3] {
    [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
}

/// A flag that turns true when SIGINT, SIGTERM or SIGHUP arrives. The handlers are in
/// place when this returns, so a signal sent right after is not missed; a signal that
/// cannot be handled is left to its default.
pub fn stop_on_signal(runtime: &tokio::runtime::Runtime) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let [int, term, hup] = {
        let _inside = runtime.enter();
        kinds().map(|k| signal(k).ok())
    };
    let set = stop.clone();
    runtime.spawn(async move {
        tokio::select! {
            Some(()) = arrival(int) => {}
            Some(()) = arrival(term) => {}
            Some(()) = arrival(hup) => {}
            else => return,
        }
        set.store(true, Ordering::Relaxed);
    });
    stop
}

/// The next delivery of a signal; `None` when it is not handled.
async fn arrival(signal: Option<Signal>) -> Option<()> {
    signal?.recv().await
}
