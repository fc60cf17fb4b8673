//! Drawing: a pure function of the model and the snapshot.

use super::app::{Model, Tab, visible_devices};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Sparkline, Table, TableState};
use sim_core::snapshot::{DeviceRow, FleetSnapshot};

/// Smallest terminal the layout fits.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// Every key, for the help overlay.
pub const KEYS: [(&str, &str); 16] = [
    ("q", "quit: stop the run, write the report"),
    ("?", "show or hide this help"),
    ("tab", "devices / alerts"),
    ("/", "filter devices by id, model or environment"),
    ("esc", "clear the filter"),
    ("s", "sort by the next column"),
    ("r", "reverse the sort"),
    ("j / down", "next device"),
    ("k / up", "previous device"),
    ("g / G", "first / last device"),
    ("o / right", "open the selected device (esc / left closes)"),
    ("enter", "toggle the selected actuator (command over MQTT)"),
    ("d", "disconnect / reconnect the selected device"),
    ("f", "inject a fault into the selected device"),
    ("space", "pause / resume the simulation"),
    ("+ / -", "double / halve the speed"),
];

fn clock(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Draw one frame.
pub fn view(m: &Model, snap: &FleetSnapshot, f: &mut Frame) {
    let area = f.area();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let msg = format!(
            "terminal too small: {}x{}, twin needs at least {}x{}",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        f.render_widget(Paragraph::new(msg), area);
        return;
    }
    let [head, overview, main, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(5),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(
        Paragraph::new(title(m, snap)).style(Style::new().add_modifier(Modifier::BOLD)),
        head,
    );
    draw_overview(snap, f, overview);
    match (m.tab, m.detail) {
        (Tab::Devices, Some(d)) => draw_detail(d, snap, f, main),
        (Tab::Devices, None) => draw_devices(m, snap, f, main),
        (Tab::Alerts, _) => draw_alerts(snap, f, main),
    }
    f.render_widget(
        Paragraph::new(hint(m)).style(Style::new().fg(Color::DarkGray)),
        foot,
    );
    if m.help {
        draw_help(f, area);
    }
    if m.picking_fault {
        draw_fault_picker(f, area);
    }
}

/// The top line: scenario, sim clock, speed and broker (or, attached, the fleet's clock).
fn title(m: &Model, snap: &FleetSnapshot) -> String {
    let speed = if m.paused {
        "PAUSED".to_string()
    } else if m.speed_scale != 1.0 {
        scaled_speed(&snap.speed, m.speed_scale)
    } else {
        snap.speed.clone()
    };
    if snap.speed == "live" {
        // Attached to a fleet this process does not run: its clock is the devices' own.
        format!(
            " twin · attached · fleet clock {} UTC · {}",
            clock(snap.sim_now.rem_euclid(86_400.0)),
            snap.broker.trim_start_matches("mqtt://")
        )
    } else {
        format!(
            " twin · {} · sim {} / {} · {} · {}{}",
            snap.scenario,
            clock(snap.sim_now),
            clock(snap.sim_duration),
            speed,
            snap.broker.trim_start_matches("mqtt://"),
            if snap.embedded { " embedded" } else { "" }
        )
    }
}

/// The speed with the user's factor on it, as the speed it makes: "480x (240x ×2)".
fn scaled_speed(speed: &str, scale: f64) -> String {
    match speed.strip_suffix('x').and_then(|f| f.parse::<f64>().ok()) {
        Some(f) => format!("{}x ({speed} ×{scale})", f * scale),
        None => format!("{speed} ×{scale}"),
    }
}

/// The bottom line: the filter being typed, or the main keys and the sort.
fn hint(m: &Model) -> String {
    if m.editing_filter {
        format!(" filter: {}_   (enter done, esc clear)", m.filter)
    } else {
        format!(
            " {}q quit  ? help  tab view  / filter{}  s sort:{}{}",
            if m.read_only { "read-only  " } else { "" },
            if m.filter.is_empty() {
                String::new()
            } else {
                format!(" [{}]", m.filter)
            },
            m.sort.title(),
            if m.descending { "↓" } else { "↑" }
        )
    }
}

fn draw_fault_picker(f: &mut Frame, area: Rect) {
    let kinds = scenarios::FaultKind::ALL;
    let w = 40.min(area.width);
    let h = (kinds.len() as u16 + 3).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let mut lines: Vec<Line> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| Line::from(format!(" {}  {}", (i + 1) % 10, k.name())))
        .collect();
    lines.push(Line::from(" esc  cancel"));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" inject fault "),
        ),
        r,
    );
}

fn draw_overview(s: &FleetSnapshot, f: &mut Frame, area: Rect) {
    let [text, spark] =
        Layout::horizontal([Constraint::Min(58), Constraint::Length(20)]).areas(area);
    let lat = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2} ms"));
    let lines = vec![
        Line::from(format!(
            "devices {} total · {} online · {} seen · {} alerting",
            s.devices_total, s.online, s.seen, s.alerting
        )),
        Line::from(format!(
            "msgs    {} sent · {} recv · {} unacked · {} drop · {} bad",
            s.sent, s.received, s.in_flight_or_lost, s.dropped_at_source, s.malformed
        )),
        Line::from(format!(
            "latency p50 {} · p99 {}",
            lat(s.latency_p50_ms),
            lat(s.latency_p99_ms)
        )),
    ];
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" fleet ")),
        text,
    );
    let rate = s.recv_rate.last().copied().unwrap_or(0);
    f.render_widget(
        Sparkline::default()
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(format!(" recv {rate}/s ")),
            )
            .data(s.recv_rate.clone())
            .style(Style::new().fg(Color::Cyan)),
        spark,
    );
}

/// A reading as a person reads it: `temperature 21.4 °C`, a switch as `on`/`off` (a
/// relay's `on` state alone: `on`), a count without decimals.
pub fn reading_text(kind: &scenarios::ModelKind, name: &str, v: f64) -> String {
    if kind.is_switch(name) {
        let word = if v != 0.0 { "on" } else { "off" };
        return if name == "on" {
            word.to_string()
        } else {
            format!("{name} {word}")
        };
    }
    let value = if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    };
    match kind.unit(name) {
        Some(u) => format!("{name} {value} {u}"),
        None => format!("{name} {value}"),
    }
}

/// A device's latest readings in `width` cells: by their names with units when they fit,
/// else with short names that stay distinct (`motion_events` → `mo_e`).
fn readings_text(d: &DeviceRow, width: usize) -> String {
    let full = d
        .readings
        .iter()
        .map(|(k, v)| reading_text(&d.kind, k, *v))
        .collect::<Vec<_>>()
        .join(" · ");
    if full.chars().count() <= width {
        return full;
    }
    d.readings
        .iter()
        .map(|(k, v)| {
            let short: String = match k.split_once('_') {
                Some((a, b)) => format!("{}_{}", &a[..a.len().min(2)], &b[..b.len().min(1)]),
                None => k.chars().take(4).collect(),
            };
            let text = reading_text(&d.kind, k, *v);
            text.replacen(k.as_str(), &short, 1).replace(' ', "")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn draw_devices(m: &Model, s: &FleetSnapshot, f: &mut Frame, area: Rect) {
    let rows = visible_devices(m, s);
    // Only the rows that fit are built, so 100k devices scroll as fast as 100.
    let height = area.height.saturating_sub(3) as usize;
    let first = m.selected.saturating_sub(height.saturating_sub(1));
    let shown: Vec<Row> = rows
        .iter()
        .skip(first)
        .take(height)
        .map(|d| device_row(d, s.sim_now, readings_width(area.width)))
        .collect();
    let header = Row::new(vec![
        "id",
        "model",
        "env",
        "link",
        "msgs",
        "age",
        "alerts",
        "last readings",
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let table = Table::new(
        shown,
        [
            Constraint::Length(13),
            Constraint::Length(11),
            Constraint::Length(8),
            Constraint::Length(4),
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(4),
            Constraint::Min(10),
        ],
    )
    .header(header)
    .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
    .block(Block::default().borders(Borders::ALL).title(format!(
        " devices {}/{} ",
        rows.len(),
        s.devices.len()
    )));
    let mut state = TableState::default().with_selected(Some(m.selected - first));
    if rows.is_empty() {
        state = TableState::default();
    }
    f.render_stateful_widget(table, area, &mut state);
}

/// Cells left for the readings column: the table's width less its borders, the fixed
/// columns and the spaces between them.
fn readings_width(table: u16) -> usize {
    usize::from(table).saturating_sub(2 + 13 + 11 + 8 + 4 + 6 + 6 + 4 + 7)
}

/// One device as a table row, red while it has open alerts.
fn device_row(d: &DeviceRow, now: f64, width: usize) -> Row<'static> {
    let age = d
        .last_seen
        .map_or("-".to_string(), |t| format!("{:.0}s", (now - t).max(0.0)));
    let status = match d.online {
        Some(true) => "on",
        Some(false) => "OFF",
        None => "?",
    };
    let style = if d.open_alerts > 0 {
        Style::new().fg(Color::Red)
    } else {
        Style::new()
    };
    Row::new(vec![
        d.id.clone(),
        d.kind.name().to_string(),
        d.environment.clone(),
        status.to_string(),
        d.received.to_string(),
        age,
        d.open_alerts.to_string(),
        readings_text(d, width),
    ])
    .style(style)
}

fn draw_alerts(s: &FleetSnapshot, f: &mut Frame, area: Rect) {
    let height = area.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = s
        .alerts
        .iter()
        .rev()
        .take(height)
        .map(|a| {
            Row::new(vec![
                clock(a.start),
                a.end.map_or("open".to_string(), clock),
                a.kind.clone(),
                a.device.clone(),
                a.sensor.clone().unwrap_or_default(),
                format!("{:.2}", a.value),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(9),
            Constraint::Length(15),
            Constraint::Length(16),
            Constraint::Length(12),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new(vec!["start", "end", "kind", "device", "sensor", "value"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" alerts {} (newest first) ", s.alerts.len())),
    );
    f.render_widget(table, area);
}

fn draw_help(f: &mut Frame, area: Rect) {
    let w = 72.min(area.width);
    let h = (KEYS.len() as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{k:>9}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*what),
            ])
        })
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" keys ")),
        r,
    );
}

fn draw_detail(d: usize, s: &FleetSnapshot, f: &mut Frame, area: Rect) {
    // Snapshots list devices in fleet order, so the index is usually the position.
    let Some(row) = s
        .devices
        .get(d)
        .filter(|r| r.index == d)
        .or_else(|| s.devices.iter().find(|r| r.index == d))
    else {
        return;
    };
    let block = Block::default().borders(Borders::ALL).title(format!(
        " {} · {} · {} · {} msgs · esc back ",
        row.id,
        row.kind.name(),
        if row.environment.is_empty() {
            "-"
        } else {
            &row.environment
        },
        row.received
    ));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(detail) = s.detail.as_ref().filter(|x| x.device == d) else {
        f.render_widget(Paragraph::new(" collecting this device's history…"), inner);
        return;
    };
    let charts: Vec<&(String, Vec<(f64, f64)>)> = detail.series.iter().take(3).collect();
    let n = charts.len().max(1) as u32;
    let mut rows: Vec<Constraint> = charts.iter().map(|_| Constraint::Ratio(1, n)).collect();
    rows.push(Constraint::Length(4));
    let areas = Layout::vertical(rows).split(inner);
    for (i, (name, pts)) in charts.iter().enumerate() {
        draw_series(&row.kind, name, pts, detail, f, areas[i]);
    }
    let open = detail.alerts.iter().filter(|a| a.end.is_none()).count();
    let mut lines = vec![Line::from(format!(
        " alerts {} ({} open){}",
        detail.alerts.len(),
        open,
        detail
            .alerts
            .iter()
            .rev()
            .take(3)
            .map(|a| format!(
                "  {} {}–{}",
                a.kind,
                clock(a.start),
                a.end.map_or("open".into(), clock)
            ))
            .collect::<String>()
    ))];
    lines.extend(
        detail
            .raw
            .iter()
            .rev()
            .take(3)
            .map(|r| Line::from(format!(" {r}")).style(Style::new().fg(Color::DarkGray))),
    );
    if let Some(a) = areas.last() {
        f.render_widget(Paragraph::new(lines), *a);
    }
}

/// One reading's history: sim time across, the value (with its unit, or off/on) up the
/// side, alert episodes marked in red along the top.
fn draw_series(
    kind: &scenarios::ModelKind,
    name: &str,
    pts: &[(f64, f64)],
    detail: &sim_core::snapshot::DeviceDetail,
    f: &mut Frame,
    area: Rect,
) {
    use ratatui::symbols::Marker;
    use ratatui::widgets::{Axis, Chart, Dataset, GraphType};
    let (x0, x1) = (
        pts.first().map_or(0.0, |p| p.0),
        pts.last().map_or(1.0, |p| p.0),
    );
    let (lo, hi) = pts
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
            (l.min(p.1), h.max(p.1))
        });
    let pad = ((hi - lo) * 0.1).max(0.05);
    let last = pts.last().map_or(0.0, |p| p.1);
    // Alert episodes on this reading are marked as a band of points at the top.
    let marks: Vec<(f64, f64)> = detail
        .alerts
        .iter()
        .filter(|a| a.sensor.as_deref().is_none_or(|s| s == name))
        .flat_map(|a| {
            let end = a.end.unwrap_or(x1);
            let step = ((x1 - x0) / 60.0).max(1.0);
            let mut v = Vec::new();
            let mut t = a.start.max(x0);
            while t <= end.min(x1) {
                v.push((t, hi + pad * 0.5));
                t += step;
            }
            v
        })
        .collect();
    let data = [
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().fg(Color::Cyan))
            .data(pts),
        Dataset::default()
            .marker(Marker::Dot)
            .style(Style::new().fg(Color::Red))
            .data(&marks),
    ];
    let unit = kind.unit(name).map_or(String::new(), |u| format!(" {u}"));
    let (y_lo, y_hi) = (lo - pad, hi + pad);
    let y_labels: Vec<String> = if kind.is_switch(name) {
        vec!["off".into(), "on".into()]
    } else {
        vec![format!("{y_lo:.1}{unit}"), format!("{y_hi:.1}{unit}")]
    };
    let x_hi = x1.max(x0 + 1.0);
    let x_labels = vec![clock(x0), clock((x0 + x_hi) / 2.0), clock(x_hi)];
    let title = format!(
        " {} (min {lo:.2}, max {hi:.2}{unit}){} ",
        reading_text(kind, name, last),
        if marks.is_empty() {
            ""
        } else {
            " · red: alerts"
        }
    );
    let chart = Chart::new(data.to_vec())
        .block(Block::default().title(title))
        .x_axis(
            Axis::default()
                .title("sim time")
                .bounds([x0, x_hi])
                .labels(x_labels),
        )
        .y_axis(Axis::default().bounds([y_lo, y_hi]).labels(y_labels));
    f.render_widget(chart, area);
}
