//! `twin tui`: the run, watched and steered in the terminal.
//!
//! The run publishes `Arc<FleetSnapshot>`s through a watch channel; this loop polls the
//! keyboard with a timeout, redraws only when the snapshot or the model changed (at most
//! 30 times a second), and never touches the world or the network itself.

pub mod app;
pub mod view;

use app::{Action, Model, visible_devices};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use sim_core::snapshot::FleetSnapshot;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What a key means in the current model; `None` for keys with no meaning.
pub fn key_to_action(m: &Model, key: KeyEvent) -> Option<Action> {
    if key.kind != KeyEventKind::Press {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if m.picking_fault {
        return match key.code {
            KeyCode::Esc => Some(Action::CancelFault),
            KeyCode::Char(c) => c
                .to_digit(10)
                .map(|d| Action::PickFault(if d == 0 { 9 } else { d as usize - 1 })),
            _ => None,
        };
    }
    if m.editing_filter {
        return match key.code {
            KeyCode::Enter => Some(Action::FilterDone),
            KeyCode::Esc => Some(Action::FilterClear),
            KeyCode::Backspace => Some(Action::FilterBackspace),
            KeyCode::Char(c) => Some(Action::FilterChar(c)),
            _ => None,
        };
    }
    Some(match key.code {
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Esc | KeyCode::Left | KeyCode::Char('o') if m.detail.is_some() => {
            Action::CloseDetail
        }
        KeyCode::Tab => Action::NextTab,
        KeyCode::Char('/') => Action::StartFilter,
        KeyCode::Esc if m.help => Action::ToggleHelp,
        KeyCode::Esc => Action::FilterClear,
        KeyCode::Char('s') => Action::NextSort,
        KeyCode::Char('r') => Action::ReverseSort,
        KeyCode::Char('j') | KeyCode::Down => Action::Move(1),
        KeyCode::Char('k') | KeyCode::Up => Action::Move(-1),
        KeyCode::PageDown => Action::Move(20),
        KeyCode::PageUp => Action::Move(-20),
        KeyCode::Char('g') | KeyCode::Home => Action::Top,
        KeyCode::Char('G') | KeyCode::End => Action::Bottom,
        KeyCode::Enter => Action::Toggle,
        KeyCode::Char('d') => Action::ToggleLink,
        KeyCode::Char('o') | KeyCode::Right => Action::OpenDetail(None),
        KeyCode::Char('f') => Action::StartFault,
        KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::Faster,
        KeyCode::Char('-') => Action::Slower,
        _ => return None,
    })
}

/// The UI's handles on the running fleet.
pub struct Steering {
    /// Ends the run.
    pub stop: Arc<AtomicBool>,
    /// Commands and steering for devices.
    pub controls: tokio::sync::mpsc::Sender<sim_core::run::Control>,
    /// Pause and speed of the sim clock.
    pub pacing: Arc<sim_core::sim::clock::Pacing>,
    /// The device whose history snapshots carry (`usize::MAX` for none).
    pub watch: Arc<std::sync::atomic::AtomicUsize>,
    /// Set on SIGTERM or SIGHUP.
    pub terminated: Arc<AtomicBool>,
}

/// Drive the terminal until the user quits (or a signal asks to). The run stops then;
/// returns its report.
pub fn drive<T>(
    rt: &tokio::runtime::Runtime,
    mut snapshots: watch::Receiver<Arc<FleetSnapshot>>,
    run: tokio::task::JoinHandle<Result<T, sim_core::run::RunError>>,
    steering: Steering,
) -> anyhow::Result<T> {
    let Steering {
        stop,
        controls,
        pacing,
        watch,
        terminated,
    } = steering;
    let mut terminal = ratatui::init();
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
    let mut model = Model::default();
    let mut dirty = true;
    let mut last_draw = Instant::now() - Duration::from_secs(1);
    let frame = Duration::from_millis(33);
    let result = loop {
        if snapshots.has_changed().unwrap_or(false) {
            snapshots.borrow_and_update();
            dirty = true;
        }
        if dirty && last_draw.elapsed() >= frame {
            let snap = snapshots.borrow().clone();
            if let Err(e) = terminal.draw(|f| view::view(&model, &snap, f)) {
                break Err(anyhow::Error::from(e));
            }
            dirty = false;
            last_draw = Instant::now();
        }
        // Keys come from a reader thread: crossterm's poll can spin without returning
        // once the terminal hangs up, and this loop must still see signals and quit.
        match keys.recv_timeout(Duration::from_millis(20)) {
            Ok(ev) => {
                if let Event::Key(k) = ev {
                    if let Some(a) = key_to_action(&model, k) {
                        let snap = snapshots.borrow().clone();
                        let a = app::resolve(&model, a, &snap);
                        // A full queue drops the key press; the user can press again.
                        match app::effect(&model, &a, &snap) {
                            Some(app::Effect::Command { device, payload }) => {
                                let _ = controls
                                    .try_send(sim_core::run::Control::Command { device, payload });
                            }
                            Some(app::Effect::Steer { device, action }) => {
                                let _ = controls.try_send(sim_core::run::Control::Steer(
                                    sim_core::sim::Steer {
                                        device: device as u32,
                                        action,
                                    },
                                ));
                            }
                            None => {}
                        }
                        let visible = visible_devices(&model, &snap).len();
                        app::update(&mut model, a, visible);
                        // Keep the sim clock in step with what the model shows.
                        if model.paused != pacing.paused() {
                            pacing.set_paused(model.paused);
                        }
                        if model.speed_scale != pacing.scale() {
                            pacing.set_scale(model.speed_scale);
                        }
                        watch.store(model.detail.unwrap_or(usize::MAX), Ordering::Relaxed);
                        dirty = true;
                    }
                } else {
                    dirty = true; // resize and the like
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                break Err(anyhow::anyhow!("terminal input closed"));
            }
        }
        // SIGTERM/SIGHUP: leave like `q`, so the terminal is restored and the report written.
        if model.quit || run.is_finished() || terminated.load(Ordering::Relaxed) {
            break Ok(());
        }
    };
    stop.store(true, Ordering::Relaxed);
    // Show the cursor ourselves: if that fails the terminal is gone (hang-up), and
    // dropping `Terminal` would try again and print the failure, and printing to a dead
    // terminal panics. Then leave it be.
    if terminal.show_cursor().is_err() {
        std::mem::forget(terminal);
    } else {
        drop(terminal);
    }
    let _ = ratatui::try_restore();
    // Even when the terminal failed (hang-up), the run is stopped and its report kept.
    if let Err(e) = result {
        // Not eprintln!: after a hang-up stderr may be gone, and that must not panic.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "twin tui: the terminal failed ({e:#}); the run was stopped"
        );
        terminated.store(true, Ordering::Relaxed);
    }
    let report = rt.block_on(run)??;
    Ok(report)
}
