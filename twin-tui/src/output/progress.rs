//! The progress bar shown while a run goes (only when stdout is a terminal).

use indicatif::{ProgressBar, ProgressStyle};
use scenarios::Scenario;
use sim_core::run::{Phase, Progress};
use std::io::IsTerminal;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;

/// A bar fed from the run's progress channel on its own thread.
pub struct Bar {
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// Wait for the bar to draw its last state.
    pub fn finish(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Start the bar; it ends by itself when the run reports `Done` or the channel closes.
pub fn spawn(mut rx: watch::Receiver<Progress>, scenario: &Scenario) -> Bar {
    if !std::io::stdout().is_terminal() {
        return Bar { thread: None };
    }
    let steps = (scenario.duration * 10.0).max(1.0) as u64;
    let thread = std::thread::Builder::new()
        .name("twin-progress".into())
        .spawn(move || {
            let bar = ProgressBar::new(steps);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {percent:>3}% {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            loop {
                let p = *rx.borrow_and_update();
                let msg = match p.phase {
                    Phase::Connecting => {
                        format!("connecting {}/{} sessions", p.connected, p.devices)
                    }
                    Phase::Running | Phase::Draining => format!(
                        "sim {:.0}/{:.0}s  sent {}  recv {}  dropped {}{}",
                        p.sim_now,
                        p.sim_duration,
                        p.sent,
                        p.received,
                        p.dropped_at_source,
                        if p.phase == Phase::Draining {
                            "  draining"
                        } else {
                            ""
                        }
                    ),
                    Phase::Done => String::new(),
                };
                bar.set_position((p.sim_now * 10.0) as u64);
                bar.set_message(msg);
                if p.phase == Phase::Done {
                    break;
                }
                // Block until the next update (the run sends one every 100 ms).
                if wait_for_change(&mut rx) {
                    break;
                }
            }
            bar.finish_and_clear();
        })
        .ok();
    Bar { thread }
}

/// Wait for a change without an async runtime (polls every 100 ms); true once closed.
fn wait_for_change(rx: &mut watch::Receiver<Progress>) -> bool {
    loop {
        match rx.has_changed() {
            Ok(true) => return false,
            Ok(false) => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return true,
        }
    }
}
