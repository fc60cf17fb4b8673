//! `twin tui`: the run, watched and steered in the terminal.
//!
//! The run publishes `Arc<FleetSnapshot>`s through a watch channel; this loop polls the
//! keyboard with a timeout, redraws only when the snapshot or the model changed (at most
//! 30 times a second), and never touches the world or the network itself.

pub mod app;
pub mod view;

use app::{Action, Model, visible_devices};
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use sim_core::report::Report;
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

/// Drive the terminal until the user quits. `run` is the running fleet; `stop` ends it.
/// Returns the report (the run stops on `q`).
pub fn drive(
    rt: &tokio::runtime::Runtime,
    mut snapshots: watch::Receiver<Arc<FleetSnapshot>>,
    run: tokio::task::JoinHandle<Result<Report, sim_core::run::RunError>>,
    stop: Arc<AtomicBool>,
    controls: tokio::sync::mpsc::Sender<sim_core::run::Control>,
    pacing: Arc<sim_core::sim::clock::Pacing>,
    watch: Arc<std::sync::atomic::AtomicUsize>,
) -> anyhow::Result<Report> {
    let mut terminal = ratatui::init();
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
        match event::poll(Duration::from_millis(20)) {
            Ok(true) => {
                if let Ok(Event::Key(k)) = event::read() {
                    if let Some(mut a) = key_to_action(&model, k) {
                        let snap = snapshots.borrow().clone();
                        if a == Action::OpenDetail(None) {
                            a = Action::OpenDetail(
                                visible_devices(&model, &snap)
                                    .get(model.selected)
                                    .map(|d| d.index),
                            );
                        }
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
            Ok(false) => {}
            Err(e) => break Err(anyhow::Error::from(e)),
        }
        if model.quit || run.is_finished() {
            break Ok(());
        }
    };
    stop.store(true, Ordering::Relaxed);
    ratatui::restore();
    result?;
    let report = rt.block_on(run)??;
    Ok(report)
}
