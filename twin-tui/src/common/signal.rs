//! The one signal handler: a signal that ends a command sets a flag the command watches,
//! so it winds down and still writes its report (exit code 130).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Which signals end a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signals {
    /// SIGINT (Ctrl-C) and SIGTERM (what Kubernetes and systemd send): a command run
    /// from a shell or a service manager.
    Shell,
    /// SIGTERM and SIGHUP: the terminal UI. Its terminal is raw, so Ctrl-C arrives as a
    /// key, and the terminal can hang up.
    Terminal,
}

impl Signals {
    fn kinds(self) -> [SignalKind; 2] {
        match self {
            Signals::Shell => [SignalKind::interrupt(), SignalKind::terminate()],
            Signals::Terminal => [SignalKind::terminate(), SignalKind::hangup()],
        }
    }
}

/// A flag that turns true when one of `signals` arrives. The handlers are in place when
/// this returns, so a signal sent right after is not missed; a signal that cannot be
/// handled is left to its default.
pub fn stop_on_signal(runtime: &tokio::runtime::Runtime, signals: Signals) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let [first, second] = {
        let _inside = runtime.enter();
        signals.kinds().map(|k| signal(k).ok())
    };
    let set = stop.clone();
    runtime.spawn(async move {
        tokio::select! {
            Some(()) = arrival(first) => {}
            Some(()) = arrival(second) => {}
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
