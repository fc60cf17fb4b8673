//! The sim thread: a named OS thread that never awaits, paced by an accumulator clock.

use super::{Sim, SimStats};
use scenarios::Speed;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most steps run between two looks at the stop flag and the wall clock.
const MAX_STEPS_PER_PASS: u64 = 256;

/// What the sim thread reports while it runs (at most ten times a second).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SimProgress {
    /// Sim seconds done.
    pub now: f64,
    /// Messages handed to the outbox.
    pub produced: u64,
    /// Messages dropped because the outbox was full.
    pub dropped_at_source: u64,
    /// How far the sim trails its pacing target, sim seconds (0 when keeping up).
    pub behind: f64,
    /// The run reached its duration.
    pub finished: bool,
}

/// Run `sim` to its duration on a thread named `twin-sim`. Setting `stop` ends it early.
pub fn spawn(
    mut sim: Sim,
    speed: Speed,
    stop: Arc<AtomicBool>,
    progress: watch::Sender<SimProgress>,
) -> std::io::Result<JoinHandle<SimStats>> {
    std::thread::Builder::new()
        .name("twin-sim".into())
        .spawn(move || {
            let tick = sim.clock().tick;
            let start = Instant::now();
            let mut last_report = Instant::now();
            let mut behind = 0.0;
            loop {
                let left = sim.steps_left();
                if left == 0 || stop.load(Ordering::Relaxed) {
                    break;
                }
                let steps = match speed {
                    Speed::Max => left.min(MAX_STEPS_PER_PASS),
                    Speed::Factor(f) => {
                        // Accumulator: how much sim time the wall clock allows by now.
                        let target = start.elapsed().as_secs_f64() * f;
                        let owed = ((target - sim.now()) / tick + 1e-9).floor();
                        behind = ((owed - MAX_STEPS_PER_PASS as f64) * tick).max(0.0);
                        if owed < 1.0 {
                            // Pacing wait: sleep until the next step is owed (at most 20 ms).
                            let next_wall = (sim.now() + tick) / f;
                            let wait = next_wall - start.elapsed().as_secs_f64();
                            std::thread::sleep(Duration::from_secs_f64(wait.clamp(0.0, 0.02)));
                            0
                        } else {
                            (owed as u64).min(MAX_STEPS_PER_PASS).min(left)
                        }
                    }
                };
                sim.step(steps);
                if last_report.elapsed() >= Duration::from_millis(100) {
                    last_report = Instant::now();
                    let s = sim.world.resource::<SimStats>();
                    progress.send_replace(SimProgress {
                        now: sim.now(),
                        produced: s.produced,
                        dropped_at_source: s.dropped_total(),
                        behind,
                        finished: false,
                    });
                }
            }
            let stats = sim.stats();
            progress.send_replace(SimProgress {
                now: sim.now(),
                produced: stats.produced,
                dropped_at_source: stats.dropped_total(),
                behind,
                finished: true,
            });
            stats
        })
}
