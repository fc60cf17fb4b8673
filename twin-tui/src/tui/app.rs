//! The UI model and its update function (Elm style: Action → update → view).

use sim_core::snapshot::{DeviceRow, FleetSnapshot};

/// Which main view is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Overview and the device table.
    Devices,
    /// The alert list.
    Alerts,
}

/// Columns the device table can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Device id (natural order: thermo-2 before thermo-10).
    Id,
    /// Model name.
    Model,
    /// Environment.
    Environment,
    /// Messages received.
    Received,
    /// Age of the last message.
    Age,
    /// Open alerts.
    Alerts,
}

impl SortKey {
    const ORDER: [SortKey; 6] = [
        SortKey::Id,
        SortKey::Model,
        SortKey::Environment,
        SortKey::Received,
        SortKey::Age,
        SortKey::Alerts,
    ];

    /// Column title.
    pub fn title(self) -> &'static str {
        match self {
            SortKey::Id => "id",
            SortKey::Model => "model",
            SortKey::Environment => "env",
            SortKey::Received => "msgs",
            SortKey::Age => "age",
            SortKey::Alerts => "alerts",
        }
    }

    fn next(self) -> SortKey {
        let i = SortKey::ORDER.iter().position(|&k| k == self).unwrap_or(0);
        SortKey::ORDER[(i + 1) % SortKey::ORDER.len()]
    }
}

/// Everything the user changed; the fleet itself comes from the snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Current view.
    pub tab: Tab,
    /// Sort column.
    pub sort: SortKey,
    /// Reverse the sort.
    pub descending: bool,
    /// Substring the device id, model or environment must contain.
    pub filter: String,
    /// Typing into the filter.
    pub editing_filter: bool,
    /// Selected row among the visible devices.
    pub selected: usize,
    /// Help overlay shown.
    pub help: bool,
    /// The user asked to quit.
    pub quit: bool,
    /// The sim clock is paused.
    pub paused: bool,
    /// Multiplier on the scenario's speed.
    pub speed_scale: f64,
    /// Choosing a fault kind for the selected device.
    pub picking_fault: bool,
    /// Fleet index of the device whose detail view is open.
    pub detail: Option<usize>,
    /// Watching a fleet this process does not run: keys that steer do nothing, and the
    /// bottom line says so.
    pub read_only: bool,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            tab: Tab::Devices,
            sort: SortKey::Id,
            descending: false,
            filter: String::new(),
            editing_filter: false,
            selected: 0,
            help: false,
            quit: false,
            paused: false,
            speed_scale: 1.0,
            picking_fault: false,
            detail: None,
            read_only: false,
        }
    }
}

/// What a key press means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Leave: stop the run, write the report.
    Quit,
    /// Show or hide the key list.
    ToggleHelp,
    /// Devices ⇄ alerts.
    NextTab,
    /// Start typing a filter.
    StartFilter,
    /// A character typed into the filter.
    FilterChar(char),
    /// Delete the filter's last character.
    FilterBackspace,
    /// Stop typing (the filter stays).
    FilterDone,
    /// Clear the filter.
    FilterClear,
    /// Sort by the next column.
    NextSort,
    /// Reverse the sort.
    ReverseSort,
    /// Move the selection.
    Move(isize),
    /// First row.
    Top,
    /// Last row.
    Bottom,
    /// Toggle the selected actuator (through MQTT, as any controller would).
    Toggle,
    /// Pause or resume the sim clock.
    TogglePause,
    /// Double the speed.
    Faster,
    /// Halve the speed.
    Slower,
    /// Disconnect the selected device (its last will fires), or reconnect it.
    ToggleLink,
    /// Open the fault picker.
    StartFault,
    /// Inject the n-th fault kind (`FaultKind::ALL`) into the selected device.
    PickFault(usize),
    /// Close the fault picker.
    CancelFault,
    /// Open the detail view of the selected device (`index` is its fleet index).
    OpenDetail(Option<usize>),
    /// Back to the table.
    CloseDetail,
}

/// Something the update asks the outside world to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish `payload` on the command topic of device `device` (fleet index).
    Command {
        /// Fleet index.
        device: usize,
        /// JSON payload.
        payload: String,
    },
    /// Apply a timeline action to the device now.
    Steer {
        /// Fleet index.
        device: usize,
        /// Disconnect, reconnect or a fault.
        action: scenarios::EventAction,
    },
}

/// The command that toggles an actuator row: relays, LEDs and heaters flip `on`,
/// thermostats flip `enabled`. `None` for sensors.
pub fn toggle_command(d: &DeviceRow) -> Option<Effect> {
    if !d.actuator {
        return None;
    }
    let reading = |k: &str| d.readings.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    let (key, now) = if d.kind == scenarios::ModelKind::Thermostat {
        ("enabled", reading("enabled").unwrap_or(1.0))
    } else {
        ("on", reading("on").unwrap_or(0.0))
    };
    Some(Effect::Command {
        device: d.index,
        payload: format!("{{\"set\":{{\"{key}\":{}}}}}", now < 0.5),
    })
}

/// Whether an action steers the fleet (commands, links, faults, the sim clock), which
/// a read-only view cannot.
pub fn steers(action: &Action) -> bool {
    matches!(
        action,
        Action::Toggle
            | Action::TogglePause
            | Action::Faster
            | Action::Slower
            | Action::ToggleLink
            | Action::StartFault
            | Action::PickFault(_)
    )
}

/// Fill in what an action needs from the snapshot (the selected device's index).
pub fn resolve(m: &Model, action: Action, snap: &FleetSnapshot) -> Action {
    match action {
        Action::OpenDetail(None) => {
            Action::OpenDetail(visible_devices(m, snap).get(m.selected).map(|d| d.index))
        }
        other => other,
    }
}

/// The effect of an action on the current snapshot, if any.
pub fn effect(m: &Model, action: &Action, snap: &FleetSnapshot) -> Option<Effect> {
    if m.tab != Tab::Devices || m.read_only {
        return None;
    }
    let rows = visible_devices(m, snap);
    let d = rows.get(m.selected)?;
    match action {
        Action::Toggle => toggle_command(d),
        Action::ToggleLink => Some(Effect::Steer {
            device: d.index,
            action: if d.online == Some(false) {
                scenarios::EventAction::Reconnect
            } else {
                scenarios::EventAction::Disconnect
            },
        }),
        Action::PickFault(i) if m.picking_fault => {
            let kind = *scenarios::FaultKind::ALL.get(*i)?;
            Some(Effect::Steer {
                device: d.index,
                action: scenarios::EventAction::Fault(scenarios::FaultSpec {
                    kind,
                    sensor: None,
                    magnitude: kind.default_magnitude(),
                    duration: kind.default_duration(),
                    per_hour: 0.0,
                    on_gateway: false,
                }),
            })
        }
        _ => None,
    }
}

/// Apply an action. `visible` is how many devices the current filter shows.
pub fn update(m: &mut Model, action: Action, visible: usize) {
    if m.read_only && steers(&action) {
        return;
    }
    match action {
        Action::Quit => m.quit = true,
        Action::ToggleHelp => m.help = !m.help,
        Action::NextTab => {
            m.tab = match m.tab {
                Tab::Devices => Tab::Alerts,
                Tab::Alerts => Tab::Devices,
            }
        }
        Action::StartFilter => m.editing_filter = true,
        Action::FilterChar(c) => {
            m.filter.push(c);
            m.selected = 0;
        }
        Action::FilterBackspace => {
            m.filter.pop();
            m.selected = 0;
        }
        Action::FilterDone => m.editing_filter = false,
        Action::FilterClear => {
            m.filter.clear();
            m.editing_filter = false;
            m.selected = 0;
        }
        Action::NextSort => m.sort = m.sort.next(),
        Action::ReverseSort => m.descending = !m.descending,
        Action::Move(d) => {
            let max = visible.saturating_sub(1) as isize;
            m.selected = (m.selected as isize + d).clamp(0, max.max(0)) as usize;
        }
        Action::Top => m.selected = 0,
        Action::Bottom => m.selected = visible.saturating_sub(1),
        Action::Toggle => {}
        Action::TogglePause => m.paused = !m.paused,
        Action::Faster => m.speed_scale = (m.speed_scale * 2.0).min(64.0),
        Action::Slower => m.speed_scale = (m.speed_scale / 2.0).max(1.0 / 64.0),
        Action::ToggleLink => {}
        Action::StartFault => m.picking_fault = m.tab == Tab::Devices && visible > 0,
        Action::PickFault(_) | Action::CancelFault => m.picking_fault = false,
        Action::OpenDetail(index) => {
            if m.tab == Tab::Devices {
                m.detail = index;
            }
        }
        Action::CloseDetail => m.detail = None,
    }
}

/// Split an id into text and number parts so `dht-10` sorts after `dht-2`.
fn natural_key(s: &str) -> (String, u64) {
    let digits: String = s.chars().rev().take_while(char::is_ascii_digit).collect();
    let n: String = digits.chars().rev().collect();
    (s[..s.len() - n.len()].to_string(), n.parse().unwrap_or(0))
}

/// The devices the table shows, filtered and sorted.
pub fn visible_devices<'a>(m: &Model, snap: &'a FleetSnapshot) -> Vec<&'a DeviceRow> {
    let f = m.filter.to_lowercase();
    let mut rows: Vec<&DeviceRow> = snap
        .devices
        .iter()
        .filter(|d| {
            f.is_empty()
                || d.id.to_lowercase().contains(&f)
                || d.kind.name().contains(&f)
                || d.environment.to_lowercase().contains(&f)
        })
        .collect();
    let now = snap.sim_now;
    // Keys that allocate are computed once per row, not once per comparison.
    match m.sort {
        SortKey::Id => rows.sort_by_cached_key(|d| natural_key(&d.id)),
        SortKey::Model => rows.sort_by_cached_key(|d| (d.kind.name(), natural_key(&d.id))),
        SortKey::Environment => rows.sort_by(|a, b| a.environment.cmp(&b.environment)),
        SortKey::Received => rows.sort_by_key(|d| d.received),
        SortKey::Age => {
            let age = |d: &DeviceRow| d.last_seen.map_or(f64::INFINITY, |t| now - t);
            rows.sort_by(|a, b| age(a).total_cmp(&age(b)));
        }
        SortKey::Alerts => rows.sort_by_key(|d| d.open_alerts),
    }
    if m.descending {
        rows.reverse();
    }
    rows
}
