//! The terminal loop: keys in, actions applied, the screen redrawn, until the user quits
//! or the run ends.

use crate::tui::app::{self, Action, Effect, Model, visible_devices};
use crate::tui::keys::key_to_action;
use crate::tui::view;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};
use sim_core::run::{Control, RunError};
use sim_core::snapshot::FleetSnapshot;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Least time between two redraws (about 30 a second).
const FRAME: Duration = Duration::from_millis(33);

/// The UI's handles on the running fleet.
pub struct Steering {
    /// Ends the run.
    pub stop: Arc<AtomicBool>,
    /// Commands and steering for devices.
    pub controls: tokio::sync::mpsc::Sender<Control>,
    /// Pause and speed of the sim clock.
    pub pacing: Arc<sim_core::sim::clock::Pacing>,
    /// The device whose history snapshots carry (`usize::MAX` for none).
    pub watch: Arc<AtomicUsize>,
    /// Set on SIGINT, SIGTERM or SIGHUP.
    pub terminated: Arc<AtomicBool>,
    /// Watching a fleet this process does not run (`--attach`): nothing to steer.
    pub read_only: bool,
}

impl Steering {
    /// Handles for a fresh run: not stopped, the clock running at the scenario's speed,
    /// no device watched.
    pub fn new(controls: tokio::sync::mpsc::Sender<Control>, terminated: Arc<AtomicBool>) -> Self {
        Steering {
            stop: Arc::default(),
            controls,
            pacing: Arc::default(),
            watch: Arc::new(AtomicUsize::new(usize::MAX)),
            terminated,
            read_only: false,
        }
    }
}

/// Drive the terminal until the user quits (or a signal asks to). The run stops then;
/// returns its report. Log lines go to stderr again once the terminal is restored (the
/// caller sent them to a file before it started the run).
pub fn drive<T>(
    rt: &tokio::runtime::Runtime,
    snapshots: watch::Receiver<Arc<FleetSnapshot>>,
    run: tokio::task::JoinHandle<Result<T, RunError>>,
    steering: Steering,
) -> anyhow::Result<T> {
    let mut terminal = ratatui::init();
    let keys = spawn_key_reader()?;
    let mut screen = Screen {
        model: Model {
            read_only: steering.read_only,
            ..Model::default()
        },
        snapshots,
        dirty: true,
        last_draw: Instant::now() - Duration::from_secs(1),
    };
    let result = screen.run(&mut terminal, &keys, &steering, &run);
    steering.stop.store(true, Ordering::Relaxed);
    restore(terminal);
    crate::common::logging::to_stderr();
    // Even when the terminal failed (hang-up), the run is stopped and its report kept.
    if let Err(e) = result {
        // Not eprintln!: after a hang-up stderr may be gone, and that must not panic.
        let _ = writeln!(
            std::io::stderr(),
            "twin tui: the terminal failed ({e:#}); the run was stopped"
        );
        steering.terminated.store(true, Ordering::Relaxed);
    }
    let report = rt.block_on(run)??;
    Ok(report)
}

/// Read terminal events on their own thread: crossterm's poll can spin without
/// returning once the terminal hangs up, and the loop must still see signals and quit.
fn spawn_key_reader() -> anyhow::Result<Receiver<Event>> {
    let (key_tx, keys) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("twin-keys".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                if key_tx.send(ev).is_err() {
                    break;
                }
            }
        })?;
    Ok(keys)
}

/// Show the cursor ourselves: if that fails the terminal is gone (hang-up), and dropping
/// `Terminal` would try again and print the failure, and printing to a dead terminal
/// panics. Then leave it be.
fn restore(mut terminal: DefaultTerminal) {
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    } else {
        drop(terminal);
    }
    let _ = ratatui::try_restore();
}

/// What the loop keeps between passes.
struct Screen {
    /// What the user changed.
    model: Model,
    /// The run's snapshots; the latest is drawn.
    snapshots: watch::Receiver<Arc<FleetSnapshot>>,
    /// Something changed since the last draw.
    dirty: bool,
    /// When the last draw was, to keep to [`FRAME`].
    last_draw: Instant,
}

impl Screen {
    /// Redraw when the snapshot or the model changed and a frame has passed.
    fn draw_if_due(&mut self, terminal: &mut DefaultTerminal) -> anyhow::Result<()> {
        if self.snapshots.has_changed().unwrap_or(false) {
            self.snapshots.borrow_and_update();
            self.dirty = true;
        }
        if self.dirty && self.last_draw.elapsed() >= FRAME {
            let snap = self.snapshots.borrow().clone();
            terminal.draw(|f| view::view(&self.model, &snap, f))?;
            self.dirty = false;
            self.last_draw = Instant::now();
        }
        Ok(())
    }

    /// Draw and act on keys until the user quits, the run ends or a signal arrives; an
    /// error when the terminal fails.
    fn run<T>(
        &mut self,
        terminal: &mut DefaultTerminal,
        keys: &Receiver<Event>,
        steering: &Steering,
        run: &tokio::task::JoinHandle<T>,
    ) -> anyhow::Result<()> {
        loop {
            self.draw_if_due(terminal)?;
            self.next_event(keys, steering)?;
            // SIGINT/SIGTERM/SIGHUP: leave like `q`, so the terminal is restored and the report
            // written.
            if self.model.quit || run.is_finished() || steering.terminated.load(Ordering::Relaxed) {
                return Ok(());
            }
        }
    }

    /// Wait briefly for a terminal event and act on it; an error when the terminal's
    /// input closed.
    fn next_event(&mut self, keys: &Receiver<Event>, steering: &Steering) -> anyhow::Result<()> {
        match keys.recv_timeout(Duration::from_millis(20)) {
            Ok(Event::Key(k)) => {
                if let Some(a) = key_to_action(&self.model, k) {
                    self.apply(a, steering);
                    self.dirty = true;
                }
            }
            Ok(_) => self.dirty = true, // resize and the like
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(anyhow::anyhow!("terminal input closed"));
            }
        }
        Ok(())
    }

    /// Resolve an action against the snapshot, send what it asks of the fleet, update the
    /// model, and keep the sim clock and the watched device in step with it.
    fn apply(&mut self, action: Action, steering: &Steering) {
        let snap = self.snapshots.borrow().clone();
        let action = app::resolve(&self.model, action, &snap);
        // A full queue drops the key press; the user can press again.
        match app::effect(&self.model, &action, &snap) {
            Some(Effect::Command { device, payload }) => {
                let _ = steering
                    .controls
                    .try_send(Control::Command { device, payload });
            }
            Some(Effect::Steer { device, action }) => {
                let _ = steering
                    .controls
                    .try_send(Control::Steer(sim_core::sim::Steer {
                        device: device as u32,
                        action,
                    }));
            }
            None => {}
        }
        let visible = visible_devices(&self.model, &snap).len();
        app::update(&mut self.model, action, visible);
        let m = &self.model;
        if m.paused != steering.pacing.paused() {
            steering.pacing.set_paused(m.paused);
        }
        if m.speed_scale != steering.pacing.scale() {
            steering.pacing.set_scale(m.speed_scale);
        }
        steering
            .watch
            .store(m.detail.unwrap_or(usize::MAX), Ordering::Relaxed);
    }
}
