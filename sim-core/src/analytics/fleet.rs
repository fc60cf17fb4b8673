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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Sliding-window length, seconds.
    pub window: f64,
    /// Judge spikes by robust z (median/MAD) instead of σ.
    pub robust_spikes: bool,
    /// Spike threshold (σ or robust z).
    pub spike_threshold: f64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        FleetConfig::from_spec(&scenarios::AnalyticsSpec::default())
    }
}

impl FleetConfig {
    /// From a scenario's `[analytics]`.
    pub fn from_spec(a: &scenarios::AnalyticsSpec) -> FleetConfig {
        FleetConfig {
            stale_factor: a.stale_factor,
            skew_tolerance: 60.0,
            window: a.window,
            robust_spikes: a.robust_spikes,
            spike_threshold: a.spike_threshold,
        }
    }
}

/// What ingest learnt from a message's `seq` (counted in [`crate::measure`]).
pub use crate::measure::SeqEvent;

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
    /// Alerts withdrawn: a stale episode whose closing message turned out to be sent
    /// before the episode began was delivery lag, not silence.
    retracted: Vec<bool>,
    /// The fleet clock: the latest sim time seen in a timestamp that was not skewed.
    now: Option<f64>,
    last_scan: f64,
}

fn device_state(fcfg: &FleetConfig, m: &ModelKind, period: f64) -> DeviceState {
    DeviceState {
        sensors: m
            .analysed_readings()
            .into_iter()
            .map(|name| {
                let name = crate::names::intern(name);
                let mut cfg = sensor_config(m, name);
                cfg.window = fcfg.window;
                cfg.spike.threshold = fcfg.spike_threshold;
                if fcfg.robust_spikes {
                    cfg.spike.method = super::sensor::SpikeMethod::RobustZ;
                }
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
    }
}

/// Detector settings for one reading of one model, scaled to the part's resolution and
/// noise so a healthy sensor stays quiet.
pub fn sensor_config(model: &ModelKind, reading: &str) -> SensorConfig {
    if let ModelKind::User(m) = model
        && let Some(r) = m.readings.iter().find(|r| r.name == reading)
    {
        return user_sensor_config(r);
    }
    let mut c = SensorConfig::default();
    let (min_delta, k, h) = match reading {
        "temperature" => (1.5, 0.4, 4.0),
        "humidity" => (5.0, 1.2, 8.0),
        "pressure" => (2.0, 0.4, 4.0),
        "moisture" => (5.0, 1.5, 10.0),
        // Mains voltage has 0.8 V of noise: 3 V is under 4 sigma, crossed by a healthy
        // meter about once a day in a hundred. 5 V is over 6 sigma.
        "voltage" if *model == ModelKind::PowerMeter => (5.0, 2.0, 12.0),
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

/// Detector settings for a user model's reading, scaled by what moves it when healthy:
/// its read noise, its resolution and a random walk's step (a walk is meant to wander).
fn user_sensor_config(r: &scenarios::UserReading) -> SensorConfig {
    let step = match r.generator {
        scenarios::Generator::RandomWalk { step, .. } => step,
        _ => 0.0,
    };
    let scale = r.noise.max(r.resolution.unwrap_or(0.0)).max(step).max(1e-3);
    let mut c = SensorConfig::default();
    // The ratios of a DHT22's temperature (0.1 °C of noise): a spike is 15 noises, a
    // drift of 4 noises a reading is summed up to 40.
    c.spike.min_delta = 15.0 * scale;
    c.level_shift_after = 2;
    c.cusum_k = 4.0 * scale;
    c.cusum_h = 40.0 * scale;
    c.stuck_repeats = 20;
    c.range = r.range;
    c
}

impl FleetAnalytics {
    /// Analytics for a fleet: ids, models and publish periods by fleet index.
    pub fn new(cfg: FleetConfig, ids: Vec<String>, models: &[ModelKind], periods: &[f64]) -> Self {
        let devices = models
            .iter()
            .zip(periods)
            .map(|(m, &period)| device_state(&cfg, m, period))
            .collect();
        FleetAnalytics {
            cfg,
            ids,
            devices,
            alerts: Vec::new(),
            retracted: Vec::new(),
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
        self.retracted.push(false);
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
        if d as usize >= self.devices.len() {
            return;
        }
        let (t, now) = self.clock_and_skew(d, ts);
        if seq.duplicate {
            self.point(d, None, AlertKind::Duplicate, t, 1.0);
            return;
        }
        self.sequence_alerts(d, t, seq);
        self.end_stale(d, t);
        self.sensor_alerts(d, t, readings, expected);
        if now - self.last_scan >= 1.0 {
            self.scan(now);
        }
    }

    /// Move the fleet clock on by a message stamped `ts`, and open or close the device's
    /// clock-skew episode. Returns the time to file the message at, and the clock.
    fn clock_and_skew(&mut self, d: u32, ts: f64) -> (f64, f64) {
        let di = d as usize;
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
        (t, now)
    }

    /// Reorder and gap alerts from what the message's `seq` showed (not a duplicate).
    fn sequence_alerts(&mut self, d: u32, t: f64, seq: SeqEvent) {
        let di = d as usize;
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
    }

    /// A message ends a stale episode, or withdraws it when it was sent before the
    /// episode began (it was late on the wire, the device was not silent).
    fn end_stale(&mut self, d: u32, t: f64) {
        let di = d as usize;
        self.devices[di].last_seen = Some(t);
        if let Some(i) = self.devices[di].stale.take() {
            if t <= self.alerts[i].start {
                self.retracted[i] = true;
            } else {
                self.alerts[i].end = Some(t);
            }
        }
    }

    /// Feed each analysed reading to its detectors; raise point alerts, open and close
    /// episodes.
    fn sensor_alerts(
        &mut self,
        d: u32,
        t: f64,
        readings: &[(String, f64)],
        expected: &[(&'static str, f64)],
    ) {
        let di = d as usize;
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

    /// Add a device found while running (attach mode); returns its index.
    pub fn add_device(&mut self, id: String, model: ModelKind, period: f64) -> u32 {
        self.devices.push(device_state(&self.cfg, &model, period));
        self.ids.push(id);
        (self.devices.len() - 1) as u32
    }

    /// Apply `[[rules]]`: thresholds and rate limits on the readings they name.
    pub fn apply_rules(&mut self, rules: &[scenarios::RuleSpec]) {
        for r in rules {
            for &d in &r.devices {
                let Some(dev) = self.devices.get_mut(d) else {
                    continue;
                };
                for slot in dev.sensors.iter_mut().filter(|s| s.name == r.sensor) {
                    if r.above.is_some() || r.below.is_some() {
                        slot.cfg.threshold = Some(super::sensor::ThresholdRule {
                            above: r.above,
                            below: r.below,
                            hysteresis: r.hysteresis,
                            n: r.n,
                            m: r.m,
                        });
                    }
                    if r.max_rate_per_s.is_some() {
                        slot.cfg.max_rate_per_s = r.max_rate_per_s;
                    }
                    slot.state = SensorState::new(&slot.cfg);
                }
            }
        }
    }

    /// Per analysed reading of a device: the window's trend (units per hour and label)
    /// and its current statistics.
    pub fn sensor_summaries(
        &self,
        d: u32,
    ) -> Vec<(
        &'static str,
        super::sensor::Trend,
        super::sensor::WindowStats,
    )> {
        self.devices.get(d as usize).map_or_else(Vec::new, |dev| {
            dev.sensors
                .iter()
                .map(|s| (s.name, s.state.trend(&s.cfg), s.state.stats()))
                .collect()
        })
    }

    /// The fleet clock.
    pub fn now(&self) -> Option<f64> {
        self.now
    }

    /// All alerts so far (open episodes have `end: None`).
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts
            .iter()
            .zip(&self.retracted)
            .filter(|(_, r)| !**r)
            .map(|(a, _)| a.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(rules: &[scenarios::RuleSpec]) -> FleetAnalytics {
        let mut f = FleetAnalytics::new(
            FleetConfig::default(),
            vec!["a".into(), "b".into()],
            &[ModelKind::Bme280, ModelKind::Bme280],
            &[10.0, 10.0],
        );
        f.apply_rules(rules);
        f
    }

    fn temp(v: f64) -> Vec<(String, f64)> {
        vec![("temperature".into(), v)]
    }

    fn kinds(f: &FleetAnalytics) -> Vec<(String, u32, f64, Option<f64>)> {
        f.alerts()
            .into_iter()
            .map(|a| (a.kind, a.device_index, a.start, a.end))
            .collect()
    }

    #[test]
    fn a_threshold_rule_opens_after_n_of_m_and_closes_with_hysteresis() {
        let rule = scenarios::RuleSpec {
            devices: vec![0],
            sensor: "temperature".into(),
            above: Some(25.0),
            below: None,
            hysteresis: 1.0,
            n: 2,
            m: 3,
            max_rate_per_s: None,
        };
        let mut f = fleet(&[rule]);
        let series = [20.0, 20.1, 26.0, 20.2, 26.1, 25.5, 24.5, 23.9, 23.8];
        for (i, v) in series.iter().enumerate() {
            let t = i as f64 * 10.0;
            f.observe(0, t, &temp(*v), &[], SeqEvent::default());
            f.observe(1, t, &temp(*v), &[], SeqEvent::default());
        }
        let th: Vec<_> = kinds(&f)
            .into_iter()
            .filter(|k| k.0 == "threshold")
            .collect();
        // The second reading above 25 within three (t = 40) opens it; it clears once two of
        // the last three are below 24 (t = 70, 80); device b has no rule.
        assert_eq!(th, [("threshold".to_string(), 0, 40.0, Some(80.0))]);
    }

    #[test]
    fn silence_goes_stale_and_a_message_ends_it() {
        let mut f = fleet(&[]);
        for i in 0..20 {
            let t = f64::from(i) * 10.0;
            f.observe(
                0,
                t,
                &temp(20.0 + f64::from(i % 3) * 0.01),
                &[],
                SeqEvent::default(),
            );
            if !(5..=12).contains(&i) {
                f.observe(
                    1,
                    t,
                    &temp(20.0 + f64::from(i % 3) * 0.01),
                    &[],
                    SeqEvent::default(),
                );
            }
        }
        let stale: Vec<_> = kinds(&f).into_iter().filter(|k| k.0 == "stale").collect();
        // b last spoke at 40 s; silent past 3 periods it is stale from 50 s until 130 s.
        assert_eq!(stale, [("stale".to_string(), 1, 50.0, Some(130.0))]);
        assert!(
            f.alerts()
                .iter()
                .find(|a| a.kind == "stale")
                .unwrap()
                .raised
                > 70.0
        );
    }

    #[test]
    fn sequence_events_and_last_will() {
        let mut f = fleet(&[]);
        f.observe(0, 0.0, &temp(20.0), &[], SeqEvent::default());
        // A gap filled by the very next (late) message is a reorder, not a gap.
        f.observe(
            0,
            10.0,
            &temp(20.0),
            &[],
            SeqEvent {
                gap: 1,
                ..SeqEvent::default()
            },
        );
        f.observe(
            0,
            10.0,
            &temp(20.0),
            &[],
            SeqEvent {
                out_of_order: true,
                ..SeqEvent::default()
            },
        );
        // A gap nothing fills is a gap.
        f.observe(
            0,
            20.0,
            &temp(20.0),
            &[],
            SeqEvent {
                gap: 2,
                ..SeqEvent::default()
            },
        );
        f.observe(0, 30.0, &temp(20.0), &[], SeqEvent::default());
        f.observe(
            0,
            30.0,
            &temp(20.0),
            &[],
            SeqEvent {
                duplicate: true,
                ..SeqEvent::default()
            },
        );
        f.status(0, false);
        f.observe(1, 40.0, &temp(20.0), &[], SeqEvent::default());
        f.status(0, true);
        let k: Vec<String> = f.alerts().into_iter().map(|a| a.kind).collect();
        assert_eq!(k, ["reorder", "gap", "duplicate", "offline"]);
        let alerts = f.alerts();
        let off = alerts.iter().find(|a| a.kind == "offline").unwrap();
        assert_eq!((off.start, off.end), (30.0, Some(40.0)));
        assert_eq!(
            f.alerts().iter().find(|a| a.kind == "gap").unwrap().value,
            2.0
        );
    }

    #[test]
    fn a_skewed_clock_is_flagged_and_does_not_move_the_fleet_clock() {
        let mut f = fleet(&[]);
        for i in 0..10 {
            let t = f64::from(i) * 10.0;
            let skew = if (3..6).contains(&i) { 300.0 } else { 0.0 };
            f.observe(0, t + skew, &temp(20.0), &[], SeqEvent::default());
            f.observe(1, t, &temp(20.0), &[], SeqEvent::default());
        }
        let sk: Vec<_> = kinds(&f)
            .into_iter()
            .filter(|k| k.0 == "clock_skew")
            .collect();
        // Opened at the fleet clock when the first skewed stamp came (20 s), closed by
        // the first true one (60 s).
        assert_eq!(sk, [("clock_skew".to_string(), 0, 20.0, Some(60.0))]);
        assert_eq!(f.now(), Some(90.0));
        assert!(kinds(&f).iter().all(|k| k.0 != "stale"));
    }
}
