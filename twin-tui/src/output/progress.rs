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
pub fn spawn(rx: watch::Receiver<Progress>, scenario: &Scenario) -> Bar {
    if !std::io::stdout().is_terminal() {
        return Bar { thread: None };
    }
    let steps = (scenario.duration * 10.0).max(1.0) as u64;
    let thread = std::thread::Builder::new()
        .name("twin-progress".into())
        .spawn(move || follow(rx, steps))
        .ok();
    Bar { thread }
}

/// Draw each progress update until the run is done, then clear the bar.
fn follow(mut rx: watch::Receiver<Progress>, steps: u64) {
    // A runtime of this thread's own, only to wait on the channel: the bar sleeps until
    // the run sends (every 100 ms) instead of polling.
    let Ok(waiter) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
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
        bar.set_position((p.sim_now * 10.0) as u64);
        bar.set_message(message(&p));
        // Done, or the run closed the channel.
        if p.phase == Phase::Done || waiter.block_on(rx.changed()).is_err() {
            break;
        }
    }
    bar.finish_and_clear();
}

/// The text beside the bar.
fn message(p: &Progress) -> String {
    match p.phase {
        Phase::Connecting => {
            format!("connecting {}/{} sessions", p.connected, p.devices)
        }
        Phase::Running | Phase::Draining => format!(
            "sim {:.0}/{:.0}s  sent {}  recv {}  dropped {}  held {:.1}s{}",
            p.sim_now,
            p.sim_duration,
            p.sent,
            p.received,
            p.dropped_at_source,
            p.held_seconds,
            if p.phase == Phase::Draining {
                "  draining"
            } else {
                ""
            }
        ),
        Phase::Done => String::new(),
    }
}
