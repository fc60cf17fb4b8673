//! The sim thread: a named OS thread that never awaits, paced by an accumulator clock.
//!
//! Sync by design, like rumqttd's router: each pass runs at most
//! [`MAX_STEPS_PER_PASS`] steps, then looks at the stop flag (a plain `AtomicBool`,
//! checked every pass), the pacing and the wall clock. Everything it exchanges with the
//! network goes through `try_send`/`try_recv`: it never awaits.
//!
//! With a flow window (see [`crate::flow`]) the thread takes a step only while the
//! window has room: when the pipeline cannot keep up it holds (short sleeps, looking at
//! the stop flag between them), so the sim clock slows instead of dropping messages. At
//! `speed = "max"` the window is the only pace. The time held is counted
//! ([`SimProgress::held_seconds`]). Without a window a full outbox drops at source.

use super::engine::Sim;
use super::resources::SimStats;
use scenarios::Speed;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// Wall seconds held so far because the flow window was full.
    pub held_seconds: f64,
    /// The run reached its duration.
    pub finished: bool,
}

/// Live pacing controls (pause, speed scale), shared with whoever steers the run.
#[derive(Debug)]
pub struct Pacing {
    paused: AtomicBool,
    /// f64 bits of the speed multiplier applied to the scenario's speed.
    scale: AtomicU64,
    /// Bumped on every change, so the clock re-anchors its accumulator.
    version: AtomicU64,
}

impl Default for Pacing {
    fn default() -> Self {
        Pacing {
            paused: AtomicBool::new(false),
            scale: AtomicU64::new(1.0f64.to_bits()),
            version: AtomicU64::new(0),
        }
    }
}

impl Pacing {
    /// Pause or resume.
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Whether the sim is paused.
    pub fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }

    /// Multiply the scenario's speed by `scale` (clamped to 1/64..64).
    pub fn set_scale(&self, scale: f64) {
        self.scale
            .store(scale.clamp(1.0 / 64.0, 64.0).to_bits(), Ordering::Relaxed);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// The current multiplier.
    pub fn scale(&self) -> f64 {
        f64::from_bits(self.scale.load(Ordering::Relaxed))
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// Run `sim` to its duration on a thread named `twin-sim`. Setting `stop` ends it early;
/// `pacing` pauses it or changes its speed while it runs.
pub fn spawn(
    sim: Sim,
    speed: Speed,
    stop: Arc<AtomicBool>,
    pacing: Arc<Pacing>,
    progress: watch::Sender<SimProgress>,
) -> std::io::Result<JoinHandle<SimStats>> {
    std::thread::Builder::new()
        .name("twin-sim".into())
        .spawn(move || drive(sim, speed, &stop, &pacing, &progress))
}

/// The sim thread's loop: as many steps as the clock owes (at most
/// [`MAX_STEPS_PER_PASS`]), then a look at `stop`, the pacing and the wall clock. It
/// never awaits; it sleeps only while paused or ahead of its pace.
fn drive(
    mut sim: Sim,
    speed: Speed,
    stop: &AtomicBool,
    pacing: &Pacing,
    progress: &watch::Sender<SimProgress>,
) -> SimStats {
    let started = Instant::now();
    let mut clock = Accumulator::new(&sim, pacing);
    let mut gate = Gate::new(sim.window());
    let mut last_report = Instant::now();
    loop {
        let left = sim.steps_left();
        if left == 0 || stop.load(Ordering::Relaxed) {
            break;
        }
        let steps = clock.owed(&sim, speed, pacing, left);
        gate.step(&mut sim, steps, stop);
        if last_report.elapsed() >= Duration::from_millis(100) {
            last_report = Instant::now();
            progress.send_replace(report(&sim, &clock, &gate, false));
        }
    }
    progress.send_replace(report(&sim, &clock, &gate, true));
    let mut stats = sim.stats();
    stats.held_seconds = gate.held.as_secs_f64();
    stats.ran_seconds = started.elapsed().as_secs_f64();
    stats
}

/// The progress the thread publishes.
fn report(sim: &Sim, clock: &Accumulator, gate: &Gate, finished: bool) -> SimProgress {
    let s = sim.counters();
    SimProgress {
        now: sim.now(),
        produced: s.produced,
        dropped_at_source: s.dropped_total(),
        behind: clock.behind,
        held_seconds: gate.held.as_secs_f64(),
        finished,
    }
}

/// Longest single sleep while the flow window is full: the window drains in
/// milliseconds on a pipeline that keeps up, and the stop flag is read between sleeps.
const HOLD_SLEEP: Duration = Duration::from_micros(200);

/// Longest hold before the thread goes round its loop again (stop flag, progress).
const HOLD_SLICE: Duration = Duration::from_millis(50);

/// Steps the sim while its flow window has room, and counts the time it held.
struct Gate {
    window: Option<Arc<crate::flow::Window>>,
    held: Duration,
}

impl Gate {
    fn new(window: Option<Arc<crate::flow::Window>>) -> Gate {
        Gate {
            window,
            held: Duration::ZERO,
        }
    }

    /// Run up to `steps` steps, one at a time, each only once the window has room. A
    /// hold gives up after [`HOLD_SLICE`] (the rest of the steps stay owed), so the
    /// thread still looks at `stop` and reports progress while the pipeline is stuck.
    fn step(&mut self, sim: &mut Sim, steps: u64, stop: &AtomicBool) {
        let Some(window) = &self.window else {
            sim.step(steps);
            return;
        };
        for _ in 0..steps {
            if window.must_hold(sim.now()) {
                let since = Instant::now();
                while window.must_hold(sim.now()) && since.elapsed() < HOLD_SLICE {
                    std::thread::sleep(HOLD_SLEEP);
                }
                self.held += since.elapsed();
                if window.must_hold(sim.now()) || stop.load(Ordering::Relaxed) {
                    return;
                }
            }
            sim.step(1);
        }
    }
}

/// The fixed-timestep accumulator: how many steps the wall clock allows by now.
struct Accumulator {
    tick: f64,
    /// Wall and sim time the accumulator counts from, moved whenever the pacing changes.
    anchor: (Instant, f64),
    /// The pacing version the anchor was set at.
    seen_version: u64,
    /// How far the sim trails its target, sim seconds.
    behind: f64,
}

impl Accumulator {
    fn new(sim: &Sim, pacing: &Pacing) -> Accumulator {
        Accumulator {
            tick: sim.clock().tick,
            anchor: (Instant::now(), sim.now()),
            seen_version: pacing.version(),
            behind: 0.0,
        }
    }

    /// Steps to run now (of `left`); 0 after a short sleep when paused or ahead.
    fn owed(&mut self, sim: &Sim, speed: Speed, pacing: &Pacing, left: u64) -> u64 {
        let tick = self.tick;
        if pacing.version() != self.seen_version {
            self.seen_version = pacing.version();
            self.anchor = (Instant::now(), sim.now());
        }
        if pacing.paused() {
            std::thread::sleep(Duration::from_millis(20));
            return 0;
        }
        match speed {
            Speed::Max => left.min(MAX_STEPS_PER_PASS),
            Speed::Factor(base) => {
                let f = base * pacing.scale();
                // Accumulator: how much sim time the wall clock allows by now.
                let target = self.anchor.1 + self.anchor.0.elapsed().as_secs_f64() * f;
                let owed = ((target - sim.now()) / tick + 1e-9).floor();
                self.behind = ((owed - MAX_STEPS_PER_PASS as f64) * tick).max(0.0);
                if owed < 1.0 {
                    // Pacing wait: until the next step is owed (at most 20 ms).
                    let wait = (sim.now() + tick - target) / f;
                    std::thread::sleep(Duration::from_secs_f64(wait.clamp(0.0, 0.02)));
                    0
                } else {
                    (owed as u64).min(MAX_STEPS_PER_PASS).min(left)
                }
            }
        }
    }
}
