//! The terminal UI drawn on ratatui's TestBackend from fixed snapshots, and driven by keys.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sim_core::analytics::fleet::Alert;
use sim_core::snapshot::{DeviceRow, FleetSnapshot};
use twin_tui::tui::app::{self, Model, SortKey, Tab, visible_devices};
use twin_tui::tui::{key_to_action, view};

fn device(id: &str, model: &'static str, env: &str, received: u64, alerts: u32) -> DeviceRow {
    DeviceRow {
        index: id.len(),
        id: id.into(),
        environment: env.into(),
        received,
        last_seen: Some(100.0 - received as f64),
        readings: vec![("temperature".into(), 21.37), ("motion_events".into(), 2.0)],
        open_alerts: alerts,
        online: Some(alerts == 0),
        actuator: model == "relay",
        kind: scenarios::ModelKind::from_name(model).unwrap_or(scenarios::ModelKind::Relay),
    }
}

fn snapshot() -> FleetSnapshot {
    FleetSnapshot {
        scenario: "demo".into(),
        broker: "mqtt://127.0.0.1:1883".into(),
        embedded: true,
        sim_now: 3725.0,
        sim_duration: 7200.0,
        speed: "240x".into(),
        devices_total: 4,
        online: 3,
        seen: 4,
        alerting: 1,
        sent: 1200,
        received: 1198,
        in_flight_or_lost: 2,
        dropped_at_source: 0,
        malformed: 1,
        latency_p50_ms: Some(0.42),
        latency_p99_ms: Some(1.5),
        recv_rate: vec![10, 12, 9, 30],
        devices: vec![
            device("dht-10", "dht22", "room-10", 40, 0),
            device("dht-2", "dht22", "room-2", 50, 1),
            device("relay-1", "relay", "room-1", 20, 0),
            device("meter", "power_meter", "", 90, 0),
        ],
        alerts: vec![Alert {
            device: "dht-2".into(),
            sensor: Some("temperature".into()),
            kind: "stuck".into(),
            start: 3600.0,
            end: None,
            raised: 3680.0,
            value: 21.4,
            device_index: 1,
        }],
        ..Default::default()
    }
}

fn render(m: &Model, s: &FleetSnapshot, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::view(m, s, f)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

fn press(m: &mut Model, s: &FleetSnapshot, c: KeyCode) {
    if let Some(a) = key_to_action(m, key(c)) {
        let a = app::resolve(m, a, s);
        let visible = visible_devices(m, s).len();
        app::update(m, a, visible);
    }
}

#[test]
fn overview_and_device_table_at_80x24() {
    let s = snapshot();
    let lines = render(&Model::default(), &s, 80, 24);
    let screen = lines.join("\n");
    assert!(
        lines[0].contains("twin · demo · sim 01:02:05 / 02:00:00 · 240x"),
        "{}",
        lines[0]
    );
    assert!(
        screen.contains("devices 4 total · 3 online · 4 seen · 1 alerting"),
        "{screen}"
    );
    assert!(
        screen.contains("1200 sent · 1198 recv · 2 unacked · 0 drop · 1 bad"),
        "{screen}"
    );
    assert!(screen.contains("p50 0.42 ms · p99 1.50 ms"), "{screen}");
    assert!(screen.contains("recv 30/s"), "{screen}");
    assert!(screen.contains("devices 4/4"), "{screen}");
    // Natural id order: dht-2 before dht-10; readings shortened but distinct.
    let at = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
    assert!(at("dht-2 ") < at("dht-10 "));
    assert!(lines[at("dht-2 ")].contains("OFF"));
    // At 80 columns the readings take short names; units and whole counts stay.
    assert!(screen.contains("temp21.37°C mo_e2"), "{screen}");
    assert!(lines[23].contains("q quit  ? help"), "{}", lines[23]);
    // Nothing is drawn past the right edge: every line is exactly 80 cells.
    assert!(lines.iter().all(|l| l.chars().count() == 80));
}

#[test]
fn a_small_terminal_gets_a_clear_message() {
    let lines = render(&Model::default(), &snapshot(), 60, 20);
    assert!(
        lines[0].contains("terminal too small: 60x20"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("80x24"));
}

#[test]
fn keys_filter_sort_help_tab_and_quit() {
    let s = snapshot();
    let mut m = Model::default();
    // Filter by typing "/dht" then enter.
    press(&mut m, &s, KeyCode::Char('/'));
    for c in "dht".chars() {
        press(&mut m, &s, KeyCode::Char(c));
    }
    press(&mut m, &s, KeyCode::Enter);
    assert!(!m.editing_filter);
    let ids: Vec<&str> = visible_devices(&m, &s)
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(ids, ["dht-2", "dht-10"]);
    let screen = render(&m, &s, 80, 24).join("\n");
    assert!(
        screen.contains("devices 2/4") && !screen.contains("relay-1"),
        "{screen}"
    );
    // 'q' while typing a filter is text, not quit.
    press(&mut m, &s, KeyCode::Char('/'));
    press(&mut m, &s, KeyCode::Char('q'));
    assert!(!m.quit);
    assert_eq!(m.filter, "dhtq");
    press(&mut m, &s, KeyCode::Esc);
    assert_eq!(m.filter, "");
    // Sort by msgs, then reversed.
    for _ in 0..3 {
        press(&mut m, &s, KeyCode::Char('s'));
    }
    assert_eq!(m.sort, SortKey::Received);
    press(&mut m, &s, KeyCode::Char('r'));
    let ids: Vec<&str> = visible_devices(&m, &s)
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert_eq!(ids, ["meter", "dht-2", "dht-10", "relay-1"]);
    // Selection stays inside the list.
    press(&mut m, &s, KeyCode::Char('G'));
    press(&mut m, &s, KeyCode::Down);
    assert_eq!(m.selected, 3);
    press(&mut m, &s, KeyCode::Char('g'));
    press(&mut m, &s, KeyCode::Up);
    assert_eq!(m.selected, 0);
    // Help lists every key.
    press(&mut m, &s, KeyCode::Char('?'));
    let screen = render(&m, &s, 80, 24).join("\n");
    for (k, what) in view::KEYS {
        assert!(screen.contains(k) && screen.contains(what), "{k}: {screen}");
    }
    press(&mut m, &s, KeyCode::Esc);
    assert!(!m.help);
    // Alerts view.
    press(&mut m, &s, KeyCode::Tab);
    assert_eq!(m.tab, Tab::Alerts);
    let screen = render(&m, &s, 80, 24).join("\n");
    assert!(
        screen.contains("01:00:00") && screen.contains("open") && screen.contains("stuck"),
        "{screen}"
    );
    // Pause and speed show in the header.
    press(&mut m, &s, KeyCode::Tab);
    press(&mut m, &s, KeyCode::Char('+'));
    press(&mut m, &s, KeyCode::Char('+'));
    assert_eq!(m.speed_scale, 4.0);
    assert!(render(&m, &s, 80, 24)[0].contains("960x (240x ×4)"));
    press(&mut m, &s, KeyCode::Char(' '));
    assert!(m.paused);
    assert!(render(&m, &s, 80, 24)[0].contains("PAUSED"));
    press(&mut m, &s, KeyCode::Char(' '));
    press(&mut m, &s, KeyCode::Char('-'));
    assert_eq!((m.paused, m.speed_scale), (false, 2.0));
    press(&mut m, &s, KeyCode::Char('q'));
    assert!(m.quit);
}

#[test]
fn enter_on_an_actuator_publishes_its_toggle_command() {
    let mut s = snapshot();
    s.devices[2].readings = vec![("on".into(), 0.0)];
    s.devices.push(DeviceRow {
        index: 9,
        kind: scenarios::ModelKind::Thermostat,
        actuator: true,
        readings: vec![("setpoint".into(), 21.0), ("enabled".into(), 1.0)],
        ..device("thermostat-1", "thermostat", "room-1", 5, 0)
    });
    let mut m = Model::default();
    press(&mut m, &s, KeyCode::Char('/'));
    for c in "relay".chars() {
        press(&mut m, &s, KeyCode::Char(c));
    }
    press(&mut m, &s, KeyCode::Enter);
    let enter = key_to_action(&m, key(KeyCode::Enter)).unwrap();
    assert_eq!(
        app::effect(&m, &enter, &s),
        Some(app::Effect::Command {
            device: "relay-1".len(),
            payload: r#"{"set":{"on":true}}"#.into()
        })
    );
    // The payload is what a device accepts.
    let p = match app::effect(&m, &enter, &s) {
        Some(app::Effect::Command { payload, .. }) => payload,
        other => panic!("{other:?}"),
    };
    assert!(sim_core::transport::session::parse_command(p.as_bytes()).is_some());
    // A thermostat flips `enabled`; a sensor has no command.
    press(&mut m, &s, KeyCode::Esc);
    press(&mut m, &s, KeyCode::Char('/'));
    for c in "thermo".chars() {
        press(&mut m, &s, KeyCode::Char(c));
    }
    press(&mut m, &s, KeyCode::Enter);
    assert_eq!(
        app::effect(&m, &enter, &s),
        Some(app::Effect::Command {
            device: 9,
            payload: r#"{"set":{"enabled":false}}"#.into()
        })
    );
    press(&mut m, &s, KeyCode::Esc);
    assert_eq!(visible_devices(&m, &s)[0].id, "dht-2");
    assert_eq!(app::effect(&m, &enter, &s), None);
}

#[test]
fn d_and_f_steer_the_selected_device() {
    let s = snapshot();
    let mut m = Model::default();
    // Selected: dht-2 (natural order), which is offline in the fixture: `d` reconnects it.
    let d = key_to_action(&m, key(KeyCode::Char('d'))).unwrap();
    assert_eq!(
        app::effect(&m, &d, &s),
        Some(app::Effect::Steer {
            device: "dht-2".len(),
            action: scenarios::EventAction::Reconnect
        })
    );
    press(&mut m, &s, KeyCode::Down);
    assert_eq!(
        app::effect(&m, &d, &s),
        Some(app::Effect::Steer {
            device: "dht-10".len(),
            action: scenarios::EventAction::Disconnect
        })
    );
    // `f` opens the picker; `2` picks the second kind (stuck) with its defaults.
    press(&mut m, &s, KeyCode::Char('f'));
    assert!(m.picking_fault);
    let screen = render(&m, &s, 80, 24).join("\n");
    assert!(
        screen.contains("inject fault") && screen.contains("2  stuck"),
        "{screen}"
    );
    let pick = key_to_action(&m, key(KeyCode::Char('2'))).unwrap();
    match app::effect(&m, &pick, &s) {
        Some(app::Effect::Steer {
            device,
            action: scenarios::EventAction::Fault(spec),
        }) => {
            assert_eq!(device, "dht-10".len());
            assert_eq!(spec.kind, scenarios::FaultKind::Stuck);
            assert_eq!(spec.duration, 900.0);
        }
        other => panic!("{other:?}"),
    }
    press(&mut m, &s, KeyCode::Char('2'));
    assert!(!m.picking_fault);
    // Esc closes the picker without an effect.
    press(&mut m, &s, KeyCode::Char('f'));
    let esc = key_to_action(&m, key(KeyCode::Esc)).unwrap();
    assert_eq!(app::effect(&m, &esc, &s), None);
    press(&mut m, &s, KeyCode::Esc);
    assert!(!m.picking_fault && !m.quit);
}

#[test]
fn the_detail_view_charts_the_watched_device() {
    let mut s = snapshot();
    let mut m = Model::default();
    // Selected row: dht-2 (index 5 in the fixture). Before any history arrives:
    press(&mut m, &s, KeyCode::Char('o'));
    assert_eq!(m.detail, Some("dht-2".len()));
    let screen = render(&m, &s, 80, 24).join("\n");
    assert!(
        screen.contains("dht-2 · dht22 · room-2 · 50 msgs"),
        "{screen}"
    );
    assert!(screen.contains("collecting"), "{screen}");
    // With history: a chart per reading, the device's alerts and its last raw payloads.
    s.detail = Some(sim_core::snapshot::DeviceDetail {
        device: "dht-2".len(),
        series: vec![
            (
                "temperature".into(),
                (0..60)
                    .map(|i| (3000.0 + f64::from(i) * 10.0, 21.0 + f64::from(i % 7) * 0.1))
                    .collect(),
            ),
            (
                "humidity".into(),
                (0..60)
                    .map(|i| (3000.0 + f64::from(i) * 10.0, 40.0))
                    .collect(),
            ),
        ],
        raw: vec![r#"{"device_id":"dht-2","seq":49,"temperature":21.6}"#.into()],
        alerts: s.alerts.clone(),
    });
    let screen = render(&m, &s, 80, 24).join("\n");
    assert!(
        screen.contains("temperature 21.30 °C (min 21.00, max 21.60 °C)"),
        "{screen}"
    );
    assert!(screen.contains("humidity 40 %"), "{screen}");
    // Labelled axes: the value with its unit up the side, sim time across.
    assert!(
        screen.contains("21.7 °C") && screen.contains("sim time"),
        "{screen}"
    );
    assert!(
        screen.contains("00:50:00") || screen.contains("00:59:50"),
        "{screen}"
    );
    assert!(
        screen.contains("alerts 1 (1 open)  stuck 01:00:00–open"),
        "{screen}"
    );
    assert!(screen.contains(r#""seq":49"#), "{screen}");
    press(&mut m, &s, KeyCode::Esc);
    assert_eq!(m.detail, None);
    assert!(render(&m, &s, 80, 24).join("\n").contains("devices 4/4"));
}

#[test]
fn an_attached_view_is_read_only_and_says_so() {
    let s = snapshot();
    let mut m = Model {
        read_only: true,
        ..Model::default()
    };
    let before = m.clone();
    for c in [
        KeyCode::Char(' '),
        KeyCode::Char('+'),
        KeyCode::Char('-'),
        KeyCode::Char('f'),
        KeyCode::Char('d'),
        KeyCode::Enter,
    ] {
        press(&mut m, &s, c);
        let a = key_to_action(&m, key(c)).map(|a| app::resolve(&m, a, &s));
        if let Some(a) = a {
            assert_eq!(
                app::effect(&m, &a, &s),
                None,
                "{c:?} steers a read-only view"
            );
        }
    }
    assert_eq!(m, before, "a steering key changed a read-only view");
    let screen = render(&m, &s, 100, 30).join("\n");
    assert!(screen.contains("read-only"), "{screen}");
    // Keys that only look still work.
    press(&mut m, &s, KeyCode::Char('j'));
    assert_eq!(m.selected, 1);
}

#[test]
fn the_title_gives_the_speed_a_factor_makes() {
    let s = snapshot();
    let mut m = Model::default();
    press(&mut m, &s, KeyCode::Char('+'));
    let screen = render(&m, &s, 100, 30).join("\n");
    assert!(screen.contains("480x (240x ×2)"), "{screen}");
    assert!(!screen.contains("240x×2"), "{screen}");
}

#[test]
fn readings_are_named_with_units_and_switches_read_on_or_off() {
    use scenarios::ModelKind as M;
    assert_eq!(
        view::reading_text(&M::Dht22, "temperature", 21.37),
        "temperature 21.37 °C"
    );
    assert_eq!(
        view::reading_text(&M::Bme280, "pressure", 1013.254),
        "pressure 1013.3 hPa"
    );
    assert_eq!(view::reading_text(&M::Relay, "on", 1.0), "on");
    assert_eq!(view::reading_text(&M::Relay, "on", 0.0), "off");
    assert_eq!(
        view::reading_text(&M::Thermostat, "heating", 1.0),
        "heating on"
    );
    assert_eq!(
        view::reading_text(&M::Pir, "motion_events", 2.0),
        "motion_events 2"
    );
    // A wide table shows the names in full, in the model's order.
    let mut s = snapshot();
    s.devices.truncate(1);
    s.devices[0].kind = M::Thermostat;
    s.devices[0].readings = vec![
        ("temperature".into(), 20.44),
        ("setpoint".into(), 21.0),
        ("heating".into(), 1.0),
        ("enabled".into(), 1.0),
    ];
    let screen = render(&Model::default(), &s, 140, 40).join("\n");
    assert!(
        screen.contains("temperature 20.44 °C · setpoint 21 °C · heating on · enabled on"),
        "{screen}"
    );
}
