//! Fleet-level analytics: per-sensor detectors for every device, plus what only the fleet
//! view can tell (staleness, last will, sequence health, clock skew), turned into alert
//! episodes with a start and an end. The same code serves simulated twins and mirrored
//! devices: it reads only what came back over MQTT and, for drift, the twin's expectation.

use super::sensor::{Flags, SensorConfig, SensorState};
use scenarios::ModelKind;
use serde::{Deserialize, Serialize};

/// Kinds of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    /// A reading far outside its window.
    Spike,
    /// The same value again and again.
    Stuck,
    /// Readings walking away from the twin's expectation.
    Drift,
    /// Faster change than the rate limit allows.
    RateOfChange,
    /// Beyond a configured threshold.
    Threshold,
    /// No message for `stale_factor` × the publish period.
    Stale,
    /// The device's last will (or status) says `offline`.
    Offline,
    /// `seq` numbers skipped.
    Gap,
    /// A `seq` received twice.
    Duplicate,
    /// A `seq` below one already received.
    Reorder,
    /// Timestamps far from the fleet's clock.
    ClockSkew,
}

impl AlertKind {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Spike => "spike",
            AlertKind::Stuck => "stuck",
            AlertKind::Drift => "drift",
            AlertKind::RateOfChange => "rate_of_change",
            AlertKind::Threshold => "threshold",
            AlertKind::Stale => "stale",
            AlertKind::Offline => "offline",
            AlertKind::Gap => "gap",
            AlertKind::Duplicate => "duplicate",
            AlertKind::Reorder => "reorder",
            AlertKind::ClockSkew => "clock_skew",
        }
    }
}

/// One alert episode, as the report's `alerts` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Device id.
    pub device: String,
    /// Reading, for per-sensor alerts.
    pub sensor: Option<String>,
    /// Kind name.
    pub kind: String,
    /// Sim seconds the episode is judged to have begun.
    pub start: f64,
    /// Sim seconds it ended; `None` while still open at the end of the run.
    pub end: Option<f64>,
    /// Sim seconds the detector raised it (detection delay = raised − fault start).
    pub raised: f64,
    /// The value that triggered it (reading, missing count, seconds of skew…).
    pub value: f64,
    /// Fleet index.
    #[serde(skip)]
    pub device_index: u32,
}

/// Fleet-level settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    /// A device is stale after this many publish periods of silence.
    pub stale_factor: f64,
    /// Timestamps further than this from the fleet clock are skewed, seconds.
    pub skew_tolerance: f64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig {
            stale_factor: 3.0,
            skew_tolerance: 60.0,
        }
    }
}

/// What ingest learnt from a message's `seq`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqEvent {
    /// `seq` seen before.
    pub duplicate: bool,
    /// `seq` below the highest seen.
    pub out_of_order: bool,
    /// `seq` numbers skipped just before this one.
    pub gap: u64,
}

/// One analysed reading of one device.
#[derive(Debug)]
struct SensorSlot {
    name: &'static str,
    cfg: SensorConfig,
    state: SensorState,
    /// Open alert per detector: stuck, drift, threshold.
    open: [Option<usize>; 3],
}

#[derive(Debug)]
struct DeviceState {
    sensors: Vec<SensorSlot>,
    period: f64,
    last_seen: Option<f64>,
    stale: Option<usize>,
    offline: Option<usize>,
    skew: Option<usize>,
    /// Skipped `seq` numbers waiting one message: a reorder fills them at once.
    pending_gap: Option<(f64, u64)>,
}

/// The analytics of a whole fleet.
#[derive(Debug)]
pub struct FleetAnalytics {
    cfg: FleetConfig,
    ids: Vec<String>,
    devices: Vec<DeviceState>,
    alerts: Vec<Alert>,
    /// The fleet clock: the latest sim time seen in a timestamp that was not skewed.
    now: Option<f64>,
    last_scan: f64,
}

/// Detector settings for one reading of one model, scaled to the part's resolution and
/// noise so a healthy sensor stays quiet.
pub fn sensor_config(model: ModelKind, reading: &str) -> SensorConfig {
    let mut c = SensorConfig::default();
    let (min_delta, k, h) = match reading {
        "temperature" => (1.5, 0.4, 4.0),
        "humidity" => (5.0, 1.2, 8.0),
        "pressure" => (2.0, 0.4, 4.0),
        "moisture" => (5.0, 1.5, 10.0),
        "voltage" => (3.0, 2.0, 12.0),
        _ => (1.0, 0.5, 5.0),
    };
    c.spike.min_delta = min_delta;
    // A second outlier on the same side is a new level (a fault released, a heater
    // switched), not another spike.
    c.level_shift_after = 2;
    c.cusum_k = k;
    c.cusum_h = h;
    // Coarse parts repeat themselves in a steady room; ask for a longer run before
    // calling them stuck.
    c.stuck_repeats = match model {
        ModelKind::Ds18b20 | ModelKind::Tmp36 => 40,
        ModelKind::Dht22 | ModelKind::SoilMoisture => 20,
        _ => 8,
    };
    c
}

impl FleetAnalytics {
    /// Analytics for a fleet: ids, models and publish periods by fleet index.
    pub fn new(cfg: FleetConfig, ids: Vec<String>, models: &[ModelKind], periods: &[f64]) -> Self {
        let devices = models
            .iter()
            .zip(periods)
            .map(|(&m, &period)| DeviceState {
                sensors: m
                    .analysed_readings()
                    .iter()
                    .map(|&name| {
                        let cfg = sensor_config(m, name);
                        SensorSlot {
                            name,
                            state: SensorState::new(&cfg),
                            cfg,
                            open: [None; 3],
                        }
                    })
                    .collect(),
                period,
                last_seen: None,
                stale: None,
                offline: None,
                skew: None,
                pending_gap: None,
            })
            .collect();
        FleetAnalytics {
            cfg,
            ids,
            devices,
            alerts: Vec::new(),
            now: None,
            last_scan: 0.0,
        }
    }

    fn open(
        &mut self,
        d: u32,
        sensor: Option<&str>,
        kind: AlertKind,
        start: f64,
        raised: f64,
        value: f64,
    ) -> usize {
        self.alerts.push(Alert {
            device: self.ids[d as usize].clone(),
            sensor: sensor.map(str::to_string),
            kind: kind.name().to_string(),
            start,
            end: None,
            raised,
            value,
            device_index: d,
        });
        self.alerts.len() - 1
    }

    fn point(&mut self, d: u32, sensor: Option<&str>, kind: AlertKind, t: f64, value: f64) {
        let i = self.open(d, sensor, kind, t, t, value);
        self.alerts[i].end = Some(t);
    }

    fn close(&mut self, slot: &mut Option<usize>, t: f64) {
        if let Some(i) = slot.take() {
            self.alerts[i].end = Some(t.max(self.alerts[i].start));
        }
    }

    /// One telemetry message: `ts` is its timestamp as sim seconds; `readings` as decoded;
    /// `expected` the twin's noise-free values when the sim supplied them.
    pub fn observe(
        &mut self,
        d: u32,
        ts: f64,
        readings: &[(String, f64)],
        expected: &[(&'static str, f64)],
        seq: SeqEvent,
    ) {
        let di = d as usize;
        if di >= self.devices.len() {
            return;
        }
        // Fleet clock and skew: a timestamp far from the clock is this device's problem,
        // not a jump of the clock.
        let tol = self.cfg.skew_tolerance;
        let now = match self.now {
            None => {
                self.now = Some(ts);
                ts
            }
            Some(n) => n,
        };
        let skewed = (ts - now).abs() > tol;
        let t = if skewed { now } else { ts.max(now.min(ts)) };
        if !skewed && ts > now {
            self.now = Some(ts);
        }
        let now = self.now.unwrap_or(ts);
        if skewed {
            if self.devices[di].skew.is_none() {
                let i = self.open(d, None, AlertKind::ClockSkew, now, now, ts - now);
                self.devices[di].skew = Some(i);
            }
        } else {
            let mut slot = self.devices[di].skew.take();
            self.close(&mut slot, now);
        }

        if seq.duplicate {
            self.point(d, None, AlertKind::Duplicate, t, 1.0);
            return;
        }
        if seq.out_of_order {
            self.point(d, None, AlertKind::Reorder, t, 1.0);
            // The late message fills (part of) the gap it opened.
            if let Some((gt, n)) = self.devices[di].pending_gap.take()
                && n > 1
            {
                self.point(d, None, AlertKind::Gap, gt, (n - 1) as f64);
            }
        } else if let Some((gt, n)) = self.devices[di].pending_gap.take() {
            self.point(d, None, AlertKind::Gap, gt, n as f64);
        }
        if seq.gap > 0 {
            self.devices[di].pending_gap = Some((t, seq.gap));
        }

        // A message ends a stale episode.
        self.devices[di].last_seen = Some(t);
        let mut stale = self.devices[di].stale.take();
        self.close(&mut stale, t);

        let mut sensors = std::mem::take(&mut self.devices[di].sensors);
        for slot in &mut sensors {
            let Some(&(_, v)) = readings.iter().find(|(k, _)| k == slot.name) else {
                continue;
            };
            let exp = expected
                .iter()
                .find(|(k, _)| *k == slot.name)
                .map(|&(_, e)| e);
            let flags: Flags = slot.state.observe(&slot.cfg, t, v, exp);
            if flags.spike {
                self.point(d, Some(slot.name), AlertKind::Spike, t, v);
            }
            if flags.rate {
                self.point(d, Some(slot.name), AlertKind::RateOfChange, t, v);
            }
            for (k, (on, kind)) in [
                (flags.stuck, AlertKind::Stuck),
                (flags.drift, AlertKind::Drift),
                (flags.threshold, AlertKind::Threshold),
            ]
            .into_iter()
            .enumerate()
            {
                match (on, slot.open[k]) {
                    (true, None) => {
                        slot.open[k] = Some(self.open(d, Some(slot.name), kind, t, t, v));
                    }
                    (false, Some(_)) => {
                        let mut o = slot.open[k].take();
                        self.close(&mut o, t);
                    }
                    _ => {}
                }
            }
        }
        self.devices[di].sensors = sensors;
        if now - self.last_scan >= 1.0 {
            self.scan(now);
        }
    }

    /// A status message (`online`/`offline`), at the fleet clock.
    pub fn status(&mut self, d: u32, online: bool) {
        let di = d as usize;
        if di >= self.devices.len() {
            return;
        }
        let Some(now) = self.now else { return };
        if online {
            let mut o = self.devices[di].offline.take();
            self.close(&mut o, now);
        } else if self.devices[di].offline.is_none() {
            let i = self.open(d, None, AlertKind::Offline, now, now, 0.0);
            self.devices[di].offline = Some(i);
        }
    }

    /// Look for silent devices. Runs at most once per sim second from `observe`.
    pub fn scan(&mut self, now: f64) {
        self.last_scan = now;
        for di in 0..self.devices.len() {
            let dev = &self.devices[di];
            let (Some(last), None) = (dev.last_seen, dev.stale) else {
                continue;
            };
            let limit = self.cfg.stale_factor * dev.period;
            if now - last > limit {
                let start = last + dev.period;
                let i = self.open(di as u32, None, AlertKind::Stale, start, now, now - last);
                self.devices[di].stale = Some(i);
            }
        }
    }

    /// The fleet clock.
    pub fn now(&self) -> Option<f64> {
        self.now
    }

    /// All alerts so far (open episodes have `end: None`).
    pub fn alerts(&self) -> &[Alert] {
        &self.alerts
    }
}
