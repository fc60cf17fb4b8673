//! The keyboard: what a key press means in the current model.

use crate::tui::app::{Action, Model};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

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
